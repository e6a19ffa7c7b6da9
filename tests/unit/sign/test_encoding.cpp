// SPDX-License-Identifier: Apache-2.0
// Tests of percent-encoding, query parsing and the canonical forms built from them.
#include "sign/canonical.hpp"
#include "sign/encoding.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using credrotd::sign::canonical_query_string;
using credrotd::sign::canonical_uri;
using credrotd::sign::encode_path;
using credrotd::sign::encode_query;
using credrotd::sign::normalize_path;
using credrotd::sign::parse_query;
using credrotd::sign::percent_decode;
using credrotd::sign::QueryParam;
using credrotd::sign::request_target;
using credrotd::sign::Slash;
using credrotd::sign::uri_encode;
using credrotd::sign::UriRules;

TEST_CASE("uri_encode leaves only the RFC 3986 unreserved bytes alone", "[sign][encoding]")
{
  CHECK(uri_encode("AZaz09-._~", Slash::encode) == "AZaz09-._~");
  CHECK(uri_encode("a b+c*d%e=f&g", Slash::encode) == "a%20b%2Bc%2Ad%25e%3Df%26g");
  CHECK(uri_encode("/a/b", Slash::encode) == "%2Fa%2Fb");
  CHECK(uri_encode("/a/b", Slash::keep) == "/a/b");
  CHECK(uri_encode("\xc3\xa9\xe1\x88\xb4", Slash::encode) == "%C3%A9%E1%88%B4");
  CHECK(uri_encode(std::string("\0\x7f\xff", 3), Slash::encode) == "%00%7F%FF");
  CHECK(uri_encode("", Slash::encode).empty());
  CHECK(encode_path("/bucket/a b/\xc3\xbc$") == "/bucket/a%20b/%C3%BC%24");
}

TEST_CASE("percent_decode decodes escapes and keeps what is not one", "[sign][encoding]")
{
  CHECK(percent_decode("%41%62%7e%7E") == "Ab~~");
  CHECK(percent_decode("a+b") == "a+b");
  CHECK(percent_decode("100%") == "100%");
  CHECK(percent_decode("%4") == "%4");
  CHECK(percent_decode("%zz%4g") == "%zz%4g");
  CHECK(percent_decode("%00") == std::string(1, '\0'));
  CHECK(percent_decode("%E1%88%B4") == "\xe1\x88\xb4");
}

TEST_CASE("parse_query splits, decodes, keeps repeats and empty values", "[sign][encoding]")
{
  const std::vector<QueryParam> expected = {{"a", "1"}, {"b", ""},    {"c", " x"}, {"a", "2"},
                                            {"", "v"},  {"k", "x=y"}, {"acl", ""}};
  CHECK(parse_query("a=1&b&c=%20x&&a=2&=v&k=x=y&acl=") == expected);
  CHECK(parse_query("").empty());
  CHECK(parse_query("&&").empty());
}

TEST_CASE("encode_query sends empty values as bare keys and round-trips", "[sign][encoding]")
{
  const std::vector<QueryParam> params = {
      {"acl", ""},   {"prefix", "a b/c"},          {"", ""},
      {"k", "=&+%"}, {"\xc3\xa9", "\xe2\x82\xac"}, {"k", "second"}};
  const std::string wire = encode_query(params);
  CHECK(wire == "acl&prefix=a%20b%2Fc&=&k=%3D%26%2B%25&%C3%A9=%E2%82%AC&k=second");
  CHECK(parse_query(wire) == params);
  CHECK(request_target("/b/k", params) == "/b/k?" + wire);
  CHECK(request_target("/b/k", {}) == "/b/k");
}

TEST_CASE("the canonical query string sorts by encoded key, then value", "[sign][encoding]")
{
  // Repeated keys sort by value; "acl" signs as "acl="; sorting is on the encoded bytes, so
  // the escape of a non-ASCII key ('%' is 0x25) comes before letters.
  const std::vector<QueryParam> params = {
      {"b", "2"}, {"a", "z"}, {"a", "y"}, {"acl", ""}, {"\xe1\x88\xb4", "1"}, {"A", "x y"}};
  CHECK(canonical_query_string(params) == "%E1%88%B4=1&A=x%20y&a=y&a=z&acl=&b=2");
  CHECK(canonical_query_string({}).empty());
}

TEST_CASE("what is sent is what is signed", "[sign][encoding]")
{
  // The server rebuilds the canonical query from the wire: parsing our wire form back must
  // give the same canonical query as the parameters it came from.
  const std::vector<QueryParam> params = {{"x y", "1+1=2"}, {"k", ""},
                                          {"k", "v"},       {"/", "%"},
                                          {"~", "\t"},      {"key", "\xf0\x9f\x98\x80"}};
  CHECK(canonical_query_string(parse_query(encode_query(params))) ==
        canonical_query_string(params));
}

TEST_CASE("S3 canonical URIs re-encode the path as sent, once", "[sign][encoding]")
{
  CHECK(canonical_uri("/bucket/test$file.text", UriRules::s3) == "/bucket/test%24file.text");
  CHECK(canonical_uri("/a b/%20/%7e/%C3%a9", UriRules::s3) == "/a%20b/%20/~/%C3%A9");
  CHECK(canonical_uri("/100%/%zz", UriRules::s3) == "/100%25/%25zz");
  CHECK(canonical_uri("/a%2Fb", UriRules::s3) == "/a/b");
  // S3 never normalises.
  CHECK(canonical_uri("//a/./b/../", UriRules::s3) == "//a/./b/../");
  CHECK(canonical_uri("/", UriRules::s3) == "/");
}

TEST_CASE("generic canonical URIs normalise, then encode the path again", "[sign][encoding]")
{
  CHECK(canonical_uri("/a%20b", UriRules::generic) == "/a%2520b");
  CHECK(canonical_uri("//example//", UriRules::generic) == "/example/");
  CHECK(canonical_uri("/example space/", UriRules::generic) == "/example%20space/");
  CHECK(canonical_uri("/example/$delete", UriRules::generic) == "/example/%24delete");
}

TEST_CASE("normalize_path removes dot segments and empty segments", "[sign][encoding]")
{
  CHECK(normalize_path("/") == "/");
  CHECK(normalize_path("//") == "/");
  CHECK(normalize_path("/./") == "/");
  CHECK(normalize_path("/example/..") == "/");
  CHECK(normalize_path("/example1/example2/../..") == "/");
  CHECK(normalize_path("/./example") == "/example");
  CHECK(normalize_path("//example//") == "/example/");
  CHECK(normalize_path("/a/b/../c") == "/a/c");
  CHECK(normalize_path("/a/b/..") == "/a/");
  CHECK(normalize_path("/a/.") == "/a/");
  CHECK(normalize_path("/../../a") == "/a");
  CHECK(normalize_path("/a/..b/.c") == "/a/..b/.c");
}
