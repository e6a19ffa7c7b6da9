// SPDX-License-Identifier: Apache-2.0
// Temporary: compiles Asio's separate-compilation sources until src/net's credrotd_asio lands.
#include <boost/asio/impl/src.hpp>
