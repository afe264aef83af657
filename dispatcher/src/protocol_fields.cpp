#include "jobs/dispatcher/protocol_fields.h"

namespace jobs::dispatcher {

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

}  // namespace jobs::dispatcher
