// SPDX-License-Identifier: Apache-2.0
// Tests of the signers' HMAC and SHA-256 contexts against RFC 4231 / RFC 2202 known answers.
#include "sign/crypto.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>

using credrotd::sign::detail::Algorithms;
using credrotd::sign::detail::append_base64;
using credrotd::sign::detail::append_hex;
using credrotd::sign::detail::Digest;
using credrotd::sign::detail::Hmac;
using credrotd::sign::detail::Sha256;

namespace {

std::string hmac_hex(Hmac& hmac, std::string_view message)
{
  unsigned char out[64];
  const std::size_t size = hmac.mac(message, out);
  std::string hex;
  append_hex(out, size, hex);
  return hex;
}

} // namespace

TEST_CASE("HMAC-SHA256 matches the RFC 4231 test cases", "[sign][crypto]")
{
  const Algorithms algorithms;
  Hmac hmac(algorithms, Digest::sha256);

  const std::string key1(20, '\x0b');
  hmac.set_key(key1.data(), key1.size());
  CHECK(hmac_hex(hmac, "Hi There") ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

  hmac.set_key("Jefe", 4);
  CHECK(hmac_hex(hmac, "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  // Test case 6: a key longer than the block is hashed first.
  const std::string key6(131, '\xaa');
  hmac.set_key(key6.data(), key6.size());
  CHECK(hmac_hex(hmac, "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("HMAC-SHA1 matches the RFC 2202 test cases", "[sign][crypto]")
{
  const Algorithms algorithms;
  Hmac hmac(algorithms, Digest::sha1);

  const std::string key1(20, '\x0b');
  hmac.set_key(key1.data(), key1.size());
  CHECK(hmac_hex(hmac, "Hi There") == "b617318655057264e28bc0b6fb378c8ef146be00");

  hmac.set_key("Jefe", 4);
  CHECK(hmac_hex(hmac, "what do ya want for nothing?") ==
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");

  const std::string key6(80, '\xaa');
  hmac.set_key(key6.data(), key6.size());
  CHECK(hmac_hex(hmac, "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

TEST_CASE("a keyed HMAC context gives the same MAC on every reuse", "[sign][crypto]")
{
  const Algorithms algorithms;
  Hmac hmac(algorithms, Digest::sha256);
  hmac.set_key("Jefe", 4);
  const std::string first = hmac_hex(hmac, "what do ya want for nothing?");
  CHECK(hmac_hex(hmac, "something else") != first);
  CHECK(hmac_hex(hmac, "what do ya want for nothing?") == first);

  // A message given in two parts MACs like the concatenation.
  unsigned char out[32];
  hmac.mac("what do ya want ", "for nothing?", out);
  std::string hex;
  append_hex(out, sizeof out, hex);
  CHECK(hex == first);
}

TEST_CASE("reusing a message's first block gives the plain MAC", "[sign][crypto]")
{
  const Algorithms algorithms;
  Hmac reusing(algorithms, Digest::sha256);
  Hmac plain(algorithms, Digest::sha256);
  const auto both = [&](std::string_view message) {
    unsigned char a[32];
    unsigned char b[32];
    reusing.mac_reusing_first_block(message, a);
    plain.mac(message, b);
    return std::equal(a, a + 32, b);
  };
  const std::string block(64, 'b');
  for (const char* key : {"first key", "second key"}) {
    reusing.set_key(key, std::strlen(key));
    plain.set_key(key, std::strlen(key));
    CHECK(both(block + "rest of the message"));
    CHECK(both(block + "another rest"));        // the kept block again
    CHECK(both(block));                         // exactly one block
    CHECK(both(std::string(64, 'c') + "rest")); // a different first block
    CHECK(both(block + "rest of the message")); // and back
    CHECK(both("shorter than a block"));
    CHECK(both(""));
  }
}

TEST_CASE("SHA-256 contexts are reusable", "[sign][crypto]")
{
  const Algorithms algorithms;
  Sha256 sha(algorithms);
  unsigned char digest[32];
  std::string hex;
  sha.digest("", digest);
  append_hex(digest, sizeof digest, hex);
  CHECK(hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  hex.clear();
  sha.digest("abc", digest);
  append_hex(digest, sizeof digest, hex);
  CHECK(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("hex and base64 encode every length", "[sign][crypto]")
{
  const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20, 0x30,
                                 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0};
  std::string hex;
  append_hex(bytes, sizeof bytes, hex);
  CHECK(hex == "00017f80feff102030405060708090a0b0c0");
  std::string appended("x");
  append_hex(bytes, 3, appended);
  CHECK(appended == "x00017f");

  const auto base64 = [](std::string_view text) {
    std::string out;
    append_base64(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out);
    return out;
  };
  CHECK(base64("").empty());
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foob") == "Zm9vYg==");
  CHECK(base64("fooba") == "Zm9vYmE=");
  CHECK(base64("foobar") == "Zm9vYmFy");
}
