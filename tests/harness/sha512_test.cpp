#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "jobs/harness/sha512.h"

using jobs::harness::sha512_hex;

TEST_CASE("SHA-512 matches the FIPS 180-2 test vectors, on any thread, call after call") {
    const std::string abc =
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3"
        "feebbd"
        "454d4423643ce80e2a9ac94fa54ca49f";
    const std::string empty =
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d287"
        "7eec2f"
        "63b931bd47417a81a538327af927da3e";
    CHECK(sha512_hex("abc") == abc);
    CHECK(sha512_hex("") == empty);
    CHECK(sha512_hex("abc") == abc);  // the reused context starts afresh each time
    std::string other;
    std::thread([&] { other = sha512_hex("abc"); }).join();
    CHECK(other == abc);
}
