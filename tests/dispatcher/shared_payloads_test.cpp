#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "jobs/dispatcher/bench/payload_view.h"
#include "jobs/dispatcher/bench/shared_payloads.h"

using namespace jobs::dispatcher::bench;

TEST_CASE("a stored payload reads back whole through a view of the same region") {
    SharedPayloads shared(1 << 20);
    const std::string payload(100'000, 'x');
    auto block = shared.store(payload + "\n\t\\ end");
    REQUIRE(block.has_value());
    const PayloadView view(shared.fd());
    const auto seen = view.at(block->ref());
    REQUIRE(seen.has_value());
    CHECK(*seen == payload + "\n\t\\ end");
}

TEST_CASE("a view refuses a place outside the region instead of reading past it") {
    SharedPayloads shared(4096);
    const PayloadView view(shared.fd());
    CHECK(view.at({0, 4096}).has_value());
    CHECK_FALSE(view.at({0, 4097}).has_value());
    CHECK_FALSE(view.at({4097, 0}).has_value());
    CHECK_FALSE(view.at({1, UINT64_MAX}).has_value());  // offset + length would wrap
}

TEST_CASE("blocks come back to the region when dropped, and freed neighbours merge") {
    SharedPayloads shared(64 * 4);
    std::vector<SharedPayloads::Block> blocks;
    for (int i = 0; i < 4; ++i) {
        auto block = shared.allocate(64);
        REQUIRE(block.has_value());
        blocks.push_back(std::move(*block));
    }
    CHECK_FALSE(shared.allocate(1).has_value());  // full: the caller sends the payload inline
    CHECK(shared.free_bytes() == 0);
    // Free the middle two, out of order: one 128-byte hole, not two of 64.
    blocks[2] = SharedPayloads::Block();
    blocks[1] = SharedPayloads::Block();
    CHECK(shared.free_bytes() == 128);
    CHECK(shared.allocate(128).has_value());  // dropped at once: the hole is back
    blocks.clear();
    CHECK(shared.free_bytes() == 256);
    CHECK(shared.allocate(256).has_value());
}

TEST_CASE("blocks never overlap, so two payloads in flight cannot clobber each other") {
    SharedPayloads shared(1 << 16);
    auto a = shared.store(std::string(1000, 'a'));
    auto b = shared.store(std::string(1000, 'b'));
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    const auto ra = a->ref();
    const auto rb = b->ref();
    CHECK((ra.offset + ra.length <= rb.offset || rb.offset + rb.length <= ra.offset));
    const PayloadView view(shared.fd());
    CHECK(*view.at(ra) == std::string(1000, 'a'));
    CHECK(*view.at(rb) == std::string(1000, 'b'));
}
