// Command lines of "--name value" / "--name=value" options, shared by the network examples.
//
// Every example prints its usage on --help (exit 0) and a one-line reason plus the usage on a
// bad command line (exit 2), so scripts can tell a typo from a runtime failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace examples {

class Flags {
 public:
  Flags(std::string program, std::string summary);

  // A text option shown as --name METAVAR; `required` ones have no default and must be given.
  Flags& text(std::string name, std::string* out, std::string metavar, std::string help,
              bool required = false);
  // An integer option within [min, max].
  Flags& integer(std::string name, int64_t* out, int64_t min, int64_t max, std::string help);
  // A duration in seconds ("2", "0.5", "250ms", "2s"), greater than zero.
  Flags& seconds(std::string name, double* out, std::string help);

  // Fills the outputs from argv, or exits (0 after --help, 2 after a bad command line).
  void parse(int argc, char** argv);
  std::string usage() const;

 private:
  enum class Kind { text, integer, seconds };
  struct Option {
    std::string name;
    Kind kind;
    void* out;
    int64_t min = 0, max = 0;
    std::string help;
    bool required = false;
    bool seen = false;
    std::string default_text;
    std::string metavar;
  };
  [[noreturn]] void fail(const std::string& why) const;
  void assign(Option& opt, std::string_view value);

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
};

}  // namespace examples
