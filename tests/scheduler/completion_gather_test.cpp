// CompletionGather: a burst's completions held until its last task answers.
#include <doctest/doctest.h>

#include "jobs/scheduler/completion_gather.h"

using namespace jobs;
using namespace jobs::scheduler;
using namespace std::chrono_literals;

namespace {

const repo::DbTime kBurst{1'000'000ms};
const repo::DbTime kAlone{2'000'000ms};

repo::Completion done(repo::JobId id) { return {id, 7, std::nullopt}; }

}  // namespace

TEST_CASE("a job alone is recorded at once") {
    CompletionGather g;
    g.started(kAlone);
    const auto a = g.answered(kAlone, done(1));
    CHECK_FALSE(a.first_held);
    REQUIRE(a.ready.size() == 1);
    CHECK(a.ready[0].id == 1);
}

TEST_CASE("a burst's completions wait for its last task and go together") {
    CompletionGather g;
    for (int i = 0; i < 3; ++i) g.started(kBurst);
    g.started(kAlone);
    const auto first = g.answered(kBurst, done(1));
    CHECK(first.first_held);  // the caller arms the flush once
    CHECK(first.ready.empty());
    const auto failed = g.answered(kBurst, std::nullopt);  // a failure counts as an answer
    CHECK_FALSE(failed.first_held);
    CHECK(failed.ready.empty());
    CHECK(g.answered(kAlone, done(9)).ready.size() == 1);  // another moment is not held up
    const auto last = g.answered(kBurst, done(3));
    REQUIRE(last.ready.size() == 2);
    CHECK(last.ready[0].id == 1);
    CHECK(last.ready[1].id == 3);
    CHECK(g.flush(kBurst).empty());  // the flush timer finds nothing left
}

TEST_CASE("a flush ends the wait: what is held goes, later answers of that moment go at once") {
    CompletionGather g;
    for (int i = 0; i < 3; ++i) g.started(kBurst);
    CHECK(g.answered(kBurst, done(1)).first_held);
    const auto flushed = g.flush(kBurst);
    REQUIRE(flushed.size() == 1);
    CHECK(flushed[0].id == 1);
    CHECK(g.answered(kBurst, done(2)).ready.size() == 1);
    CHECK(g.answered(kBurst, done(3)).ready.size() == 1);
}

TEST_CASE("a stopping instance takes everything still held") {
    CompletionGather g;
    for (int i = 0; i < 2; ++i) g.started(kBurst);
    for (int i = 0; i < 2; ++i) g.started(kAlone);
    g.answered(kBurst, done(1));
    g.answered(kAlone, done(2));
    CHECK(g.flush_all().size() == 2);
    CHECK(g.flush_all().empty());
}
