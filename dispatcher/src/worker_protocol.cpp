#include "jobs/dispatcher/worker_protocol.h"

#include <charconv>

namespace jobs::dispatcher {
namespace {

constexpr std::string_view kReadyVerb = "READY";
constexpr char kCapabilitySeparator = ',';

// The whole field, digits only (from_chars takes no '+' and no spaces).
template <typename Number = std::int64_t>
std::optional<Number> parse_int(std::string_view text) {
    Number value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// "&<offset>+<length>"
std::optional<SharedRef> parse_shared_ref(std::string_view field) {
    if (!field.starts_with('&')) return std::nullopt;
    field.remove_prefix(1);
    const auto plus = field.find('+');
    if (plus == std::string_view::npos) return std::nullopt;
    const auto offset = parse_int<std::uint64_t>(field.substr(0, plus));
    const auto length = parse_int<std::uint64_t>(field.substr(plus + 1));
    if (!offset || !length) return std::nullopt;
    return SharedRef{*offset, *length};
}

// First lines are logged: a long one is cut.
std::string excerpt(std::string_view line) {
    constexpr std::size_t kMaxExcerpt = 200;
    return std::string(line.substr(0, kMaxExcerpt));
}

}  // namespace

std::string_view capability_name(Capability capability) {
    switch (capability) {
        case Capability::Fences:
            return "fences";
        case Capability::Timed:
            return "timed";
        case Capability::Orphans:
            return "orphans";
    }
    return "unknown";
}

std::optional<Capability> capability_from_name(std::string_view name) {
    for (const Capability c : kAllCapabilities) {
        if (capability_name(c) == name) return c;
    }
    return std::nullopt;
}

std::string format_capabilities(Capabilities capabilities) {
    std::string field;
    for (const Capability c : kAllCapabilities) {
        if (!capabilities.has(c)) continue;
        if (!field.empty()) field += kCapabilitySeparator;
        field += capability_name(c);
    }
    return field;
}

std::string describe(Capabilities capabilities) {
    return capabilities.empty() ? "none" : format_capabilities(capabilities);
}

std::string format_ready(const Ready& ready) {
    std::string line = std::string(kReadyVerb) + '\t' + std::to_string(ready.version) + '\t' +
                       escape_field(ready.program);
    if (!ready.capabilities.empty() || ready.permits != kDefaultPermits)
        line += '\t' + format_capabilities(ready.capabilities);
    if (ready.permits != kDefaultPermits) line += '\t' + std::to_string(ready.permits);
    line += '\n';
    return line;
}

std::optional<Ready> parse_ready(std::string_view line, std::string& error) {
    const auto fields = split_fields(line);
    const auto version = fields.size() >= 2 ? parse_int<int>(fields[1]) : std::nullopt;
    if (fields.size() < 3 || fields.size() > 5 || fields[0] != kReadyVerb || !version) {
        error = "worker's first line was not READY: " + excerpt(line);
        return std::nullopt;
    }
    if (*version != kProtocolVersion) {
        error = "worker speaks protocol version " + std::to_string(*version) +
                ", this pool speaks version " + std::to_string(kProtocolVersion);
        return std::nullopt;
    }
    Ready ready{*version, unescape_field(fields[2]), {}, kDefaultPermits};
    if (fields.size() == 5) {
        const auto permits = parse_int<std::size_t>(fields[4]);
        if (!permits || *permits == 0 || *permits > kMaxPermits) {
            error = "worker declares permits '" + excerpt(fields[4]) + "'; this pool takes 1 to " +
                    std::to_string(kMaxPermits);
            return std::nullopt;
        }
        ready.permits = *permits;
    }
    if (fields.size() == 3 || fields[3].empty()) return ready;
    std::string_view names = fields[3];
    for (;;) {
        const auto separator = names.find(kCapabilitySeparator);
        const auto name = names.substr(0, separator);
        const auto capability = capability_from_name(name);
        if (!capability) {
            error = "worker declares a capability unknown to this pool: '" + excerpt(name) + "'";
            return std::nullopt;
        }
        ready.capabilities.add(*capability);
        if (separator == std::string_view::npos) return ready;
        names.remove_prefix(separator + 1);
    }
}

std::string format_request(const TaskRequest& request) {
    std::string line =
        "RUN\t" + std::to_string(request.job_id) + '\t' + std::to_string(request.lock_token) + '\t';
    // An absent payload is an empty field; a present one starts with '=' so "" stays distinct.
    if (request.payload) {
        line += '=' + escape_field(*request.payload);
    } else if (request.shared_payload) {
        line += '&' + std::to_string(request.shared_payload->offset) + '+' +
                std::to_string(request.shared_payload->length);
    }
    if (request.not_before_ns) line += "\t@" + std::to_string(*request.not_before_ns);
    line += '\n';
    return line;
}
std::optional<TaskRequest> parse_request(std::string_view line) {
    const auto fields = split_fields(line);
    if (fields.size() < 4 || fields.size() > 5 || fields[0] != "RUN") return std::nullopt;
    const auto id = parse_int(fields[1]);
    const auto token = parse_int(fields[2]);
    if (!id || !token) return std::nullopt;
    TaskRequest request{*id, *token, std::nullopt};
    if (!fields[3].empty() && fields[3][0] == '=') {
        request.payload = unescape_field(fields[3].substr(1));
    } else if (!fields[3].empty()) {
        request.shared_payload = parse_shared_ref(fields[3]);
        if (!request.shared_payload) return std::nullopt;
    }
    if (fields.size() == 5) {
        if (fields[4].empty() || fields[4][0] != '@') return std::nullopt;
        request.not_before_ns = parse_int(fields[4].substr(1));
        if (!request.not_before_ns || *request.not_before_ns < 0) return std::nullopt;
    }
    return request;
}

std::string format_reply(const TaskReply& reply) {
    const char* verb = reply.kind == ReplyKind::Done     ? "DONE"
                       : reply.kind == ReplyKind::Ok     ? "OK"
                       : reply.kind == ReplyKind::Failed ? "FAIL"
                                                         : "SKIP";
    return std::string(verb) + '\t' + std::to_string(reply.job_id) + '\t' +
           escape_field(reply.text) + '\n';
}

std::optional<TaskReply> parse_reply(std::string_view line) {
    const auto fields = split_fields(line);
    if (fields.size() < 2 || fields.size() > 3) return std::nullopt;
    TaskReply reply;
    if (fields[0] == "DONE") {
        reply.kind = ReplyKind::Done;
    } else if (fields[0] == "OK") {
        reply.kind = ReplyKind::Ok;
    } else if (fields[0] == "FAIL") {
        reply.kind = ReplyKind::Failed;
    } else if (fields[0] == "SKIP") {
        reply.kind = ReplyKind::Skipped;
    } else {
        return std::nullopt;
    }
    const auto id = parse_int(fields[1]);
    if (!id) return std::nullopt;
    reply.job_id = *id;
    if (fields.size() == 3) reply.text = unescape_field(fields[2]);
    return reply;
}

}  // namespace jobs::dispatcher
