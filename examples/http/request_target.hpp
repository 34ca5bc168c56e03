// The four forms of an HTTP/1.1 request target (RFC 9112 §3.2) and the path they name.
#pragma once

#include <string_view>

namespace http {

// Whether `target` has a form `method` may use: origin-form ("/a?b") or absolute-form
// ("http://h/a?b") for any method but CONNECT, asterisk-form ("*") for OPTIONS too, and
// authority-form ("host:port") for CONNECT alone. Characters are checked by the parser.
bool valid_target_form(std::string_view method, std::string_view target);

// The path of an origin-form or absolute-form target, query left out; an absolute URI with an
// empty path ("http://h", "http://h?q") names "/". Other forms are returned as they are.
std::string_view target_path(std::string_view target);

}  // namespace http
