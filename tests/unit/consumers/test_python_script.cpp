// SPDX-License-Identifier: Apache-2.0
// Tests of boto3 scripts with the key inline: only the two literals change.
#include "consumers/python_script.hpp"
#include "support.hpp"

#include <catch2/catch.hpp>

using namespace credrotd::consumers;
using credrotd::consumers::test::error_of;
using credrotd::consumers::test::str;
using credrotd::core::Errc;
using credrotd::core::Secret;

namespace {

const std::string k_a = "11111111111111111111111111111111";
const std::string k_s = "22222222222222222222222222222222";

std::string render(std::string_view content)
{
  const auto out = python_script::render({"/s.py", content}, k_a, Secret(k_s));
  INFO(error_of(out));
  REQUIRE(out);
  return str(*out);
}

std::string render_error(std::string_view content)
{
  const auto out = python_script::render({"/s.py", content}, k_a, Secret(k_s));
  REQUIRE_FALSE(out);
  CHECK(out.error().message.find(k_s) == std::string::npos);
  return out.error().message;
}

} // namespace

TEST_CASE("python: the Example.py of S3 guides: only the literals change", "[consumers][python]")
{
  const std::string in = "#!/usr/bin/env python3\n"
                         "# aws_access_key_id='NOT_THIS' in a comment\n"
                         "import boto3\n"
                         "doc = \"\"\"aws_access_key_id='NOR_THIS'\"\"\"\n"
                         "s3 = boto3.resource('s3',\n"
                         "    endpoint_url='https://s3.example.org',\n"
                         "    aws_access_key_id = 'AKOLD',  # the access key\n"
                         "    aws_secret_access_key=\"SKOLD\")\n"
                         "c = boto3.client('s3', aws_access_key_id=u'AKOLD',\n"
                         "                 aws_secret_access_key='SKOLD', region_name='x')\n"
                         "if aws_access_key_id == 'AKOLD': pass\n";
  const auto key = python_script::read({"/s.py", in});
  REQUIRE(key);
  REQUIRE(*key);
  CHECK((*key)->access_id == "AKOLD");
  CHECK((*key)->secret.reveal() == "SKOLD");
  CHECK((*key)->line == 7);
  std::string expected = in;
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"'AKOLD',  #", "'" + k_a + "',  #"},
        {"\"SKOLD\"", "\"" + k_s + "\""},
        {"u'AKOLD'", "u'" + k_a + "'"},
        {"'SKOLD', region", "'" + k_s + "', region"}}) {
    expected.replace(expected.find(from), from.size(), to);
  }
  CHECK(render(in) == expected);
  // Session(...) and no key at all.
  CHECK(render("boto3.Session(aws_access_key_id='A', aws_secret_access_key='S')") ==
        "boto3.Session(aws_access_key_id='" + k_a + "', aws_secret_access_key='" + k_s + "')");
  const auto none = python_script::read({"/s.py", "import boto3\ns = boto3.Session()\n"});
  REQUIRE(none);
  CHECK_FALSE(*none);
  const auto missing = python_script::render({"/s.py", "import boto3\n"}, k_a, Secret(k_s));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("python: what cannot be rewritten safely is refused with file:line",
          "[consumers][python]")
{
  const std::string head = "import boto3\n";
  const auto call = [&](std::string_view access) {
    return head + "s3 = boto3.client('s3',\n  aws_access_key_id=" + std::string(access) +
           ",\n  aws_secret_access_key='SK')\n";
  };
  CHECK_THAT(render_error(call("f'{x}'")),
             Catch::StartsWith("/s.py:3:21: aws_access_key_id= is an f-string"));
  CHECK_THAT(render_error(call("KEY")), Catch::Contains("is not a string literal"));
  CHECK_THAT(render_error(call("os.environ['AK']")), Catch::Contains("is not a string literal"));
  CHECK_THAT(render_error(call("'A' + 'B'")), Catch::Contains("concatenation"));
  CHECK_THAT(render_error(call("'A' 'B'")), Catch::Contains("concatenation"));
  CHECK_THAT(render_error(call("'A'.strip()")), Catch::Contains("concatenation"));
  CHECK_THAT(render_error(call("'''A'''")), Catch::Contains("triple-quoted"));
  CHECK_THAT(render_error(call("'A\\x41'")), Catch::Contains("backslash"));
  CHECK_THAT(render_error(call("b'A'")), Catch::Contains("bytes"));
  CHECK_THAT(render_error(call("'A")), Catch::Contains("unterminated"));
  CHECK_THAT(render_error(call("'A'") + "boto3.client('s3', aws_access_key_id='B', "
                                        "aws_secret_access_key='SK')\n"),
             Catch::StartsWith("/s.py:5:20: aws_access_key_id= differs from the one on line 3"));
  CHECK_THAT(render_error(head + "boto3.client(aws_access_key_id='A')\n"),
             Catch::Contains("half a key"));
}
