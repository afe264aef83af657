#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "test_db.h"

int main(int argc, char** argv) {
    // Decide skip-or-run before any test: an unset backend variable exits 77 here.
    jobs::test::pin_odbc_drivers();
    const auto& db = jobs::test::test_db();
    doctest::Context context(argc, argv);
    (void)db;
    return context.run();
}
