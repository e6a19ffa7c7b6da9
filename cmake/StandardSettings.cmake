# SPDX-License-Identifier: Apache-2.0
# Language level, definitions and sanitizer flags shared by every target (linked PRIVATE).
add_library(credrotd_settings INTERFACE)
target_compile_features(credrotd_settings INTERFACE cxx_std_20)
set(CMAKE_CXX_EXTENSIONS OFF)
target_compile_definitions(
  credrotd_settings
  INTERFACE
    # Asio and Beast are compiled once, in src/net/asio_impl.cpp, instead of in every
    # translation unit that includes them (10-20 s each on this machine).
    BOOST_ASIO_SEPARATE_COMPILATION
    BOOST_BEAST_SEPARATE_COMPILATION
    BOOST_ASIO_NO_DEPRECATED
    BOOST_JSON_NO_LIB
    BOOST_URL_NO_LIB
    $<$<CONFIG:Debug>:_GLIBCXX_ASSERTIONS>
    $<$<BOOL:${CREDROTD_FAULT_INJECTION}>:CREDROTD_FAULT_INJECTION=1>
    CREDROTD_VERSION="${PROJECT_VERSION}")
target_include_directories(credrotd_settings INTERFACE ${PROJECT_SOURCE_DIR}/src)

if(CREDROTD_SANITIZE)
  target_compile_options(credrotd_settings INTERFACE -fsanitize=address,undefined
                                                     -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(credrotd_settings INTERFACE -fsanitize=address,undefined)
endif()
