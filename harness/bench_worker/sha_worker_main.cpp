// jobs-sha-worker: the pool benchmark's child. Answers each RUN request with the SHA-512 of its
// payload ("OK <id> <hex>"), speaking the worker protocol of dispatcher/README.md.
#include <cstdio>
#include <iostream>
#include <string>

#include "jobs/dispatcher/line_protocol.h"
#include "jobs/harness/sha512.h"

int main() {
    std::ios::sync_with_stdio(false);
    std::fputs("READY\t1\tjobs-sha-worker\n", stdout);
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
        const auto request = jobs::dispatcher::parse_request(line);
        const jobs::dispatcher::TaskReply reply =
            request ? jobs::dispatcher::TaskReply{jobs::dispatcher::ReplyKind::Ok, request->job_id,
                                                  jobs::harness::sha512_hex(request->payload.value_or(""))}
                    : jobs::dispatcher::TaskReply{jobs::dispatcher::ReplyKind::Failed, 0, "malformed request"};
        const std::string out = jobs::dispatcher::format_reply(reply);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fflush(stdout);
    }
    return 0;
}
