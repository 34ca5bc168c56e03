// Inline commands: the plain-text form of a request ("SET greeting \"hello world\"") that
// redis-cli-less clients such as telnet, and redis-benchmark's PING_INLINE, send.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kv {

// Splits one inline line into arguments: separated by whitespace; "double quotes" take the
// escapes \n \r \t \b \a \\ \" and \xHH, 'single quotes' only \'. A closing quote must be
// followed by whitespace or the end. Unescaped arguments are appended to `arena`; `spans`
// receives (offset, length) pairs into it. False on unbalanced quotes.
bool split_inline(std::string_view line, std::string& arena,
                  std::vector<std::pair<size_t, size_t>>& spans);

}  // namespace kv
