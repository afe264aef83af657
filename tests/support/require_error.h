#pragma once

#include <doctest/doctest.h>

#include <string>

#include "jobs/repo/error.h"

namespace jobs::test {

// Runs `call`, requires a RepoError of `kind` whose message mentions `words`.
template <typename F>
void require_error(F&& call, repo::ErrorKind kind, const std::string& words) {
    try {
        call();
        FAIL("expected an error mentioning '" << words << "'");
    } catch (const repo::RepoError& e) {
        CHECK(e.kind() == kind);
        CHECK_MESSAGE(std::string(e.what()).find(words) != std::string::npos, e.what());
    }
}

}  // namespace jobs::test
