// Worker replies to job outcomes (outcome.h): a pure mapping.
#include <doctest/doctest.h>

#include "jobs/scheduler/outcome.h"

using namespace jobs::scheduler;
using jobs::dispatcher::CallResult;
using jobs::dispatcher::CallStatus;

TEST_CASE("each reply of the protocol maps to its outcome, with its text") {
    CHECK(classify(5, {CallStatus::Replied, "OK\t5\tresult", {}}).kind == Outcome::Kind::Completed);
    CHECK(classify(5, {CallStatus::Replied, "OK\t5\tresult", {}}).text == "result");
    CHECK(classify(5, {CallStatus::Replied, "DONE\t5", {}}).kind ==
          Outcome::Kind::RecordedByWorker);
    CHECK(classify(5, {CallStatus::Replied, "FAIL\t5\tboom", {}}).kind == Outcome::Kind::Failed);
    CHECK(classify(5, {CallStatus::Replied, "FAIL\t5\tboom", {}}).text == "boom");
    CHECK(classify(5, {CallStatus::Replied, "SKIP\t5\tlost", {}}).kind ==
          Outcome::Kind::NotStarted);
}

TEST_CASE("a reply for another job, or not in the protocol, is the worker's failure") {
    CHECK(classify(5, {CallStatus::Replied, "OK\t6", {}}).kind == Outcome::Kind::Failed);
    CHECK(classify(5, {CallStatus::Replied, "hello", {}}).text.find("garbage") !=
          std::string::npos);
}

TEST_CASE(
    "a worker that died mid-task interrupts the job; one that timed out fails it; a request no "
    "worker received is not delivered, its task never began") {
    CHECK(classify(5, {CallStatus::ChildDied, {}, "signal 9"}).kind == Outcome::Kind::Interrupted);
    CHECK(classify(5, {CallStatus::TimedOut, {}, "timeout"}).kind == Outcome::Kind::Failed);
    CHECK(classify(5, {CallStatus::StartFailed, {}, "no worker"}).kind ==
          Outcome::Kind::NotDelivered);
    CHECK(classify(5, {CallStatus::Stopped, {}, "draining"}).kind == Outcome::Kind::NotDelivered);
    CHECK(classify(5, {CallStatus::Stopped, {}, "draining"}).text == "draining");
}
