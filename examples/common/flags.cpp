#include "common/flags.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace examples {

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

Flags& Flags::text(std::string name, std::string* out, std::string metavar, std::string help,
                   bool required) {
  options_.push_back({std::move(name), Kind::text, out, 0, 0, std::move(help), required, false,
                      required ? "" : *out, std::move(metavar)});
  return *this;
}

Flags& Flags::integer(std::string name, int64_t* out, int64_t min, int64_t max,
                      std::string help) {
  options_.push_back(
      {std::move(name), Kind::integer, out, min, max, std::move(help), false, false,
       std::to_string(*out), "N"});
  return *this;
}

Flags& Flags::seconds(std::string name, double* out, std::string help) {
  char def[32];
  std::snprintf(def, sizeof def, "%g", *out);
  options_.push_back(
      {std::move(name), Kind::seconds, out, 0, 0, std::move(help), false, false, def, "SECONDS"});
  return *this;
}

std::string Flags::usage() const {
  std::string u = "usage: " + program_;
  size_t width = 6;  // "--help"
  for (const Option& o : options_) {
    std::string arg = "--" + o.name + " " + o.metavar;
    u += o.required ? " " + arg : " [" + arg + "]";
    width = std::max(width, o.name.size() + 2);
  }
  u += "\n" + summary_ + "\n\noptions:\n";
  auto line = [&](const std::string& flag, const std::string& text) {
    u += "  " + flag + std::string(width + 2 - flag.size(), ' ') + text + "\n";
  };
  for (const Option& o : options_) {
    line("--" + o.name, o.help + (o.required ? "" : " (default " + o.default_text + ")"));
  }
  line("--help", "this text");
  return u;
}

void Flags::fail(const std::string& why) const {
  std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), why.c_str(), usage().c_str());
  std::exit(2);
}

void Flags::assign(Option& opt, std::string_view value) {
  opt.seen = true;
  switch (opt.kind) {
    case Kind::text:
      if (value.empty()) fail("--" + opt.name + " needs a non-empty value");
      *static_cast<std::string*>(opt.out) = std::string(value);
      return;
    case Kind::integer: {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || end != value.data() + value.size() || v < opt.min || v > opt.max) {
        fail("--" + opt.name + " wants an integer in [" + std::to_string(opt.min) + ", " +
             std::to_string(opt.max) + "], not '" + std::string(value) + "'");
      }
      *static_cast<int64_t*>(opt.out) = v;
      return;
    }
    case Kind::seconds: {
      double scale = 1;
      std::string_view num = value;
      if (num.ends_with("ms")) {
        scale = 1e-3;
        num.remove_suffix(2);
      } else if (num.ends_with("s")) {
        num.remove_suffix(1);
      }
      // strtod needs a terminated string; from_chars for double is not in every libstdc++.
      std::string copy(num);
      char* end = nullptr;
      double v = copy.empty() ? -1 : std::strtod(copy.c_str(), &end);
      if (copy.empty() || end != copy.c_str() + copy.size() || !std::isfinite(v) || v <= 0) {
        fail("--" + opt.name + " wants a positive duration such as 2, 0.5 or 250ms, not '" +
             std::string(value) + "'");
      }
      *static_cast<double*>(opt.out) = v * scale;
      return;
    }
  }
}

void Flags::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      std::exit(0);
    }
    if (!arg.starts_with("--")) fail("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    std::string_view name = arg, value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    Option* opt = nullptr;
    for (Option& o : options_) {
      if (o.name == name) opt = &o;
    }
    if (opt == nullptr) fail("unknown option '--" + std::string(name) + "'");
    if (!inline_value) {
      if (i + 1 >= argc) fail("--" + opt->name + " needs a value");
      value = argv[++i];
    }
    assign(*opt, value);
  }
  for (const Option& o : options_) {
    if (o.required && !o.seen) fail("--" + o.name + " is required");
  }
}

}  // namespace examples
