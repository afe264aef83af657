#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "jobs/dispatcher/worker_protocol.h"

using namespace jobs::dispatcher;

namespace {

std::string all_bytes() {
    std::string bytes;
    for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
    return bytes;
}

// A formatted line without its final '\n', as the reader hands it over.
std::string strip(std::string line) {
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

}  // namespace

TEST_CASE(
    "escaping then unescaping gives back any bytes, and the escaped form has no tab or line "
    "break") {
    std::vector<std::string> samples = {
        "",
        "plain",
        "\t",
        "\n",
        "\r",
        "\\",
        "\\t",
        "\\\\n",
        "a\tb\nc\rd\\e",
        "trailing backslash\\",
        "; rm -rf / #",
        "$(reboot) `id` && echo pwned | sh",
        all_bytes(),
        std::string("nul\0inside", 10),
    };
    std::mt19937_64 rng(20240601);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 64);
    for (int i = 0; i < 500; ++i) {
        std::string random;
        const int n = length(rng);
        for (int j = 0; j < n; ++j) random += static_cast<char>(byte(rng));
        samples.push_back(random);
    }
    for (const auto& sample : samples) {
        const std::string escaped = escape_field(sample);
        CHECK(escaped.find('\t') == std::string::npos);
        CHECK(escaped.find('\n') == std::string::npos);
        CHECK(escaped.find('\r') == std::string::npos);
        CHECK(unescape_field(escaped) == sample);
    }
}

TEST_CASE("a payload travels as data, whatever it looks like") {
    const std::vector<std::string> payloads = {
        "; rm -rf /", "line one\nRUN\t2\t3\t=injected\n", "\t\t", "\\n", "=", ""};
    for (const auto& payload : payloads) {
        const std::string line =
            format_request({.job_id = 42, .lock_token = -7, .payload = payload});
        REQUIRE(line.ends_with('\n'));
        const std::string body = line.substr(0, line.size() - 1);
        CHECK(body.find('\n') ==
              std::string::npos);  // one request is one line, whatever the payload
        CHECK(split_fields(body).size() == 4);
        const auto parsed = parse_request(body);
        REQUIRE(parsed.has_value());
        CHECK(parsed->job_id == 42);
        CHECK(parsed->lock_token == -7);
        CHECK(parsed->payload == std::optional<std::string>(payload));
    }
}

TEST_CASE("a start time rides after the payload and comes back exact; without it there is none") {
    const TaskRequest early{7, 9, std::string("a\tb"), 123'456'789'012'345};
    const auto parsed = parse_request(strip(format_request(early)));
    REQUIRE(parsed);
    CHECK(parsed->payload == std::string("a\tb"));
    CHECK(parsed->not_before_ns == 123'456'789'012'345);
    const auto plain = parse_request(strip(format_request({7, 9, std::nullopt})));
    REQUIRE(plain);
    CHECK_FALSE(plain->not_before_ns);
}

TEST_CASE("a payload in shared memory travels as its place, with a start time after it") {
    TaskRequest request{7, 9, std::nullopt, 123, SharedRef{4096, 1048576}};
    const auto line = format_request(request);
    CHECK(line == "RUN\t7\t9\t&4096+1048576\t@123\n");
    const auto parsed = parse_request(std::string_view(line).substr(0, line.size() - 1));
    REQUIRE(parsed.has_value());
    CHECK_FALSE(parsed->payload.has_value());
    REQUIRE(parsed->shared_payload.has_value());
    CHECK(*parsed->shared_payload == SharedRef{4096, 1048576});
    CHECK(parsed->not_before_ns == 123);
}

TEST_CASE("an absent payload and an empty payload stay distinct") {
    const std::string absent =
        format_request({.job_id = 1, .lock_token = 2, .payload = std::nullopt});
    const std::string empty =
        format_request({.job_id = 1, .lock_token = 2, .payload = std::string()});
    CHECK(absent != empty);
    CHECK(absent == "RUN\t1\t2\t\n");
    const auto absent_parsed = parse_request(absent.substr(0, absent.size() - 1));
    const auto empty_parsed = parse_request(empty.substr(0, empty.size() - 1));
    REQUIRE(absent_parsed.has_value());
    REQUIRE(empty_parsed.has_value());
    CHECK_FALSE(absent_parsed->payload.has_value());
    REQUIRE(empty_parsed->payload.has_value());
    CHECK(empty_parsed->payload->empty());
}

TEST_CASE("replies round-trip for each kind and keep their text whole") {
    for (const ReplyKind kind : {ReplyKind::Done, ReplyKind::Ok, ReplyKind::Failed}) {
        const TaskReply reply{kind, 9'000'000'000, "error:\tbad\nthing \\ here"};
        const std::string line = format_reply(reply);
        REQUIRE(line.ends_with('\n'));
        const auto parsed = parse_reply(line.substr(0, line.size() - 1));
        REQUIRE(parsed.has_value());
        CHECK(parsed->kind == kind);
        CHECK(parsed->job_id == reply.job_id);
        CHECK(parsed->text == reply.text);
    }
    const auto bare = parse_reply("DONE\t5");  // the text field may be left off
    REQUIRE(bare.has_value());
    CHECK(bare->kind == ReplyKind::Done);
    CHECK(bare->job_id == 5);
    CHECK(bare->text.empty());
}

TEST_CASE("split_fields keeps empty fields, so field positions never shift") {
    CHECK(split_fields("") == std::vector<std::string_view>{""});
    CHECK(split_fields("a") == std::vector<std::string_view>{"a"});
    CHECK(split_fields("a\t\tb\t") == std::vector<std::string_view>{"a", "", "b", ""});
}

TEST_CASE("malformed requests are rejected rather than guessed at") {
    const std::vector<std::string> bad = {
        "",
        "RUN",
        "RUN\t1\t2",                       // payload field missing
        "RUN\t1\t2\t=x\textra",            // a fifth field is only a start time: @<ns>
        "RUN\t1\t2\t=x\t@",                // start time without its number
        "RUN\t1\t2\t=x\t@-5",              // negative start time
        "RUN\t1\t2\t=x\t@5\t",             // one field too many
        "run\t1\t2\t",                     // the verb is case-sensitive
        "DONE\t1\t2\t",                    // a reply is not a request
        "RUN\tone\t2\t",                   // id not a number
        "RUN\t1\ttwo\t",                   // token not a number
        "RUN\t\t2\t",                      // empty id
        "RUN\t1 \t2\t",                    // trailing space in the id
        "RUN\t+1\t2\t",                    // a sign from_chars does not take
        "RUN\t1\t2\tno-equals-sign",       // a present payload starts with '=' or '&'
        "RUN\t1\t2\t&5",                   // a shared payload needs offset and length
        "RUN\t1\t2\t&-5+3",                // negative offset
        "RUN\t1\t2\t&5+",                  // length missing
        "RUN\t1\t2\t&+3",                  // offset missing
        "RUN\t1\t2\t&5+3x",                // trailing junk
        "RUN\t99999999999999999999\t2\t",  // id out of range
        " RUN\t1\t2\t",
    };
    for (const auto& line : bad) {
        CAPTURE(line);
        CHECK_FALSE(parse_request(line).has_value());
    }
    CHECK(parse_request("RUN\t1\t2\t").has_value());  // the well-formed neighbour passes
}

TEST_CASE("malformed replies are rejected rather than guessed at") {
    const std::vector<std::string> bad = {
        "",
        "DONE",                  // no id
        "DONE\t",                // empty id
        "DONE\tx",               // id not a number
        "DONE\t1\ttext\textra",  // one field too many
        "done\t1",               // the verb is case-sensitive
        "READY\t1\tfake",        // a start line is not a reply
        "RUN\t1\t2\t",           // a request is not a reply
        "this is not the protocol",
        "OK\t1.5\t",
        "FAIL\t 1\tmessage",
    };
    for (const auto& line : bad) {
        CAPTURE(line);
        CHECK_FALSE(parse_reply(line).has_value());
    }
    CHECK(parse_reply("FAIL\t1\tmessage").has_value());
}

TEST_CASE("READY names the version and the program, and the capabilities only when there are") {
    CHECK(format_ready({kProtocolVersion, "fake", {}}) == "READY\t1\tfake\n");
    CHECK(format_ready({kProtocolVersion, "jobs-worker", {Capability::Fences}}) ==
          "READY\t1\tjobs-worker\tfences\n");
    std::string error;
    const auto plain = parse_ready("READY\t1\tpy-worker", error);
    REQUIRE(plain.has_value());
    CHECK(plain->version == 1);
    CHECK(plain->program == "py-worker");
    CHECK(plain->capabilities.empty());
    const auto fencing = parse_ready(strip(format_ready({1, "a\tb", {Capability::Fences}})), error);
    REQUIRE(fencing.has_value());
    CHECK(fencing->program == "a\tb");
    CHECK(fencing->capabilities == Capabilities{Capability::Fences});
    const auto empty_field = parse_ready("READY\t1\tx\t", error);
    REQUIRE(empty_field.has_value());
    CHECK(empty_field->capabilities.empty());
}

TEST_CASE("capabilities go by name, and a set describes itself") {
    for (const Capability c : kAllCapabilities)
        CHECK(capability_from_name(capability_name(c)) == c);
    CHECK_FALSE(capability_from_name("Fences").has_value());
    CHECK(describe({}) == "none");
    CHECK(describe({Capability::Fences}) == "fences");
    CHECK(format_capabilities({}).empty());
}

TEST_CASE("a READY line of another version is refused, naming both versions") {
    std::string error;
    CHECK_FALSE(parse_ready("READY\t2\tfake", error).has_value());
    CHECK(error.find("version 2") != std::string::npos);
    CHECK(error.find("version 1") != std::string::npos);
}

TEST_CASE("malformed READY lines and unknown capabilities are refused, saying why") {
    const std::vector<std::string> bad = {
        "",
        "READY",
        "READY\t1",
        "READY\tx\tfake",
        "ready\t1\tf",
        "HELLO\t1\tfake",
        "READY\t1\tf\t\t5\ty",
        "READY\t-\tfake",
    };
    for (const auto& line : bad) {
        CAPTURE(line);
        std::string error;
        CHECK_FALSE(parse_ready(line, error).has_value());
        CHECK(error.find("not READY") != std::string::npos);
    }
    std::string error;
    CHECK_FALSE(parse_ready("READY\t1\tfake\tfences,teleport", error).has_value());
    CHECK(error.find("'teleport'") != std::string::npos);
    for (const char* permits : {"0", "-1", "x", "", "65", "5 "}) {
        CAPTURE(permits);
        CHECK_FALSE(parse_ready(std::string("READY\t1\tfake\ttimed\t") + permits, error));
        CHECK(error.find("permits") != std::string::npos);
    }
}

TEST_CASE("READY declares the permits a worker serves at once, after its capabilities") {
    CHECK(format_ready({1, "jobs-worker", {Capability::Timed, Capability::Orphans}, 5}) ==
          "READY\t1\tjobs-worker\ttimed,orphans\t5\n");
    CHECK(format_ready({1, "plain", {}, 3}) == "READY\t1\tplain\t\t3\n");
    CHECK(format_ready({1, "one", {Capability::Timed}, kDefaultPermits}) ==
          "READY\t1\tone\ttimed\n");
    std::string error;
    const auto five = parse_ready("READY\t1\tjobs-worker\ttimed,orphans\t5", error);
    REQUIRE(five.has_value());
    CHECK(five->permits == 5);
    CHECK(five->capabilities == Capabilities{Capability::Timed, Capability::Orphans});
    const auto plain = parse_ready("READY\t1\tplain\t\t64", error);
    REQUIRE(plain.has_value());
    CHECK(plain->permits == kMaxPermits);
    CHECK(plain->capabilities.empty());
    CHECK(parse_ready("READY\t1\tplain", error)->permits == kDefaultPermits);
}
