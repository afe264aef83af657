#include "jobs/dispatcher/line_protocol.h"

#include <charconv>

namespace jobs::dispatcher {
namespace {

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

}  // namespace

// Both copy the runs between special bytes whole: on a 1 MB payload a byte-by-byte loop costs
// about as much as hashing it.
std::string escape_field(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 64);
    for (;;) {
        const auto special = text.find_first_of("\\\t\n\r");
        out.append(text.substr(0, special));
        if (special == std::string_view::npos) return out;
        switch (text[special]) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += "\\r";
                break;
        }
        text.remove_prefix(special + 1);
    }
}

std::string unescape_field(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (;;) {
        const auto backslash = text.find('\\');
        // A lone backslash at the very end is kept as it is.
        if (backslash == std::string_view::npos || backslash + 1 == text.size()) {
            out.append(text);
            return out;
        }
        out.append(text.substr(0, backslash));
        switch (text[backslash + 1]) {
            case 't':
                out += '\t';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            default:
                out += text[backslash + 1];
        }
        text.remove_prefix(backslash + 2);
    }
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    for (;;) {
        const auto tab = line.find('\t', start);
        fields.push_back(
            line.substr(start, tab == std::string_view::npos ? line.npos : tab - start));
        if (tab == std::string_view::npos) return fields;
        start = tab + 1;
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
