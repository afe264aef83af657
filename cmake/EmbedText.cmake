# Turns a text file into a C++ source defining `std::string_view <symbol>()` so the schema the
# programs create is byte-for-byte the file a person loads with sqlite3/psql.
file(READ "${INPUT}" content)
set(delim "jobs_embed")
file(WRITE "${OUTPUT}" "#include <string_view>\nnamespace jobs::repo::embedded {\nstd::string_view ${SYMBOL}() {\n    static constexpr std::string_view text = R\"${delim}(${content})${delim}\";\n    return text;\n}\n}  // namespace jobs::repo::embedded\n")
