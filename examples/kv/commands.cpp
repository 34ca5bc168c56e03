#include "kv/commands.hpp"

#include <cstdint>
#include <string>

#include "common/ascii.hpp"
#include "kv/integer.hpp"
#include "kv/reply.hpp"

namespace kv {

namespace {

// Time is in milliseconds, as in Redis: every expire time it accepts fits in an int64.
constexpr int64_t kMs = 1;
constexpr int64_t kMsPerSecond = 1000;

struct Call {
  Store& store;
  std::span<const std::string_view> args;
  int64_t now;
  ReplyWriter& out;
  After after = After::keep_open;
};

using examples::iequals;

// Client-supplied text quoted in an error reply, cut short so the reply stays small.
// Built with += : GCC 12 at -O3 flags "literal" + std::string with a false -Wrestrict.
std::string quoted(std::string_view s) {
  std::string out = "'";
  out += s.substr(0, 128);
  out += '\'';
  return out;
}

void not_integer(Call& c) { reply::error(c.out, "ERR value is not an integer or out of range"); }
void syntax_error(Call& c) { reply::error(c.out, "ERR syntax error"); }

// now + amount * unit, or false when that overflows (Redis: "invalid expire time"). Redis
// checks the same two steps: the conversion to milliseconds, then the addition of now.
bool expiry_instant(int64_t now, int64_t amount, int64_t unit, int64_t& at) {
  int64_t delta = 0;
  return !__builtin_mul_overflow(amount, unit, &delta) &&
         !__builtin_add_overflow(now, delta, &at);
}

void cmd_ping(Call& c) {
  if (c.args.size() > 2) {
    return reply::error(c.out, "ERR wrong number of arguments for 'ping' command");
  }
  if (c.args.size() == 1) {
    reply::simple(c.out, "PONG");
  } else {
    reply::bulk(c.out, c.args[1]);
  }
}

void cmd_echo(Call& c) { reply::bulk(c.out, c.args[1]); }

void cmd_get(Call& c) {
  auto v = c.store.get(c.args[1], c.now);
  if (v) {
    reply::bulk(c.out, *v);
  } else {
    reply::null_bulk(c.out);
  }
}

// SET's options as Redis 7 reads them: an option may repeat (the last EX or PX value counts)
// but not meet a conflicting one (NX with XX; EX, PX and KEEPTTL with each other).
struct SetRequest {
  Store::SetOptions opts;
  int64_t unit = 0;         // of the EX / PX value, in ms; 0: neither was given
  std::string_view amount;  // the EX / PX value, read once all options are known to be valid
};

bool parse_set_options(std::span<const std::string_view> opts, SetRequest& req) {
  using enum Store::Condition;
  for (size_t i = 0; i < opts.size(); ++i) {
    std::string_view opt = opts[i];
    const bool has_value = i + 1 < opts.size();
    if (iequals(opt, "nx") && req.opts.condition != if_present) {
      req.opts.condition = if_absent;
    } else if (iequals(opt, "xx") && req.opts.condition != if_absent) {
      req.opts.condition = if_present;
    } else if (iequals(opt, "keepttl") && req.unit == 0) {
      req.opts.keep_ttl = true;
    } else if (iequals(opt, "ex") && has_value && !req.opts.keep_ttl && req.unit != kMs) {
      req.unit = kMsPerSecond;
      req.amount = opts[++i];
    } else if (iequals(opt, "px") && has_value && !req.opts.keep_ttl && req.unit != kMsPerSecond) {
      req.unit = kMs;
      req.amount = opts[++i];
    } else {
      return false;
    }
  }
  return true;
}

void cmd_set(Call& c) {
  SetRequest req;
  if (!parse_set_options(c.args.subspan(3), req)) return syntax_error(c);
  if (req.unit != 0) {
    int64_t amount = 0;
    if (!parse_integer(req.amount, amount)) return not_integer(c);
    if (amount <= 0 || !expiry_instant(c.now, amount, req.unit, req.opts.expire_at)) {
      return reply::error(c.out, "ERR invalid expire time in 'set' command");
    }
  }
  if (c.store.set(c.args[1], c.args[2], req.opts, c.now)) {
    reply::ok(c.out);
  } else {
    reply::null_bulk(c.out);
  }
}

void cmd_del(Call& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); ++i) n += c.store.erase(c.args[i], c.now) ? 1 : 0;
  reply::integer(c.out, n);
}

void cmd_exists(Call& c) {
  int64_t n = 0;
  for (size_t i = 1; i < c.args.size(); ++i) n += c.store.contains(c.args[i], c.now) ? 1 : 0;
  reply::integer(c.out, n);
}

void increment_by(Call& c, int64_t delta) {
  auto r = c.store.increment(c.args[1], delta, c.now);
  switch (r.status) {
    case Store::IncrStatus::ok: return reply::integer(c.out, r.value);
    case Store::IncrStatus::not_integer: return not_integer(c);
    case Store::IncrStatus::overflow:
      return reply::error(c.out, "ERR increment or decrement would overflow");
  }
}

void cmd_incr(Call& c) { increment_by(c, 1); }
void cmd_decr(Call& c) { increment_by(c, -1); }

void cmd_incrby(Call& c) {
  int64_t delta = 0;
  if (!parse_integer(c.args[2], delta)) return not_integer(c);
  increment_by(c, delta);
}

void cmd_decrby(Call& c) {
  int64_t delta = 0;
  if (!parse_integer(c.args[2], delta)) return not_integer(c);
  // -INT64_MIN does not exist.
  if (delta == INT64_MIN) return reply::error(c.out, "ERR decrement would overflow");
  increment_by(c, -delta);
}

void cmd_mget(Call& c) {
  reply::array(c.out, c.args.size() - 1);
  // The reply can be gigabytes: once the client is gone, stop fetching values for it.
  for (size_t i = 1; i < c.args.size() && !c.out.failed(); ++i) {
    auto v = c.store.get(c.args[i], c.now);
    if (v) {
      reply::bulk(c.out, *v);
    } else {
      reply::null_bulk(c.out);
    }
  }
}

void cmd_mset(Call& c) {
  if (c.args.size() % 2 != 1) {
    return reply::error(c.out, "ERR wrong number of arguments for 'mset' command");
  }
  for (size_t i = 1; i < c.args.size(); i += 2) {
    c.store.set(c.args[i], c.args[i + 1], {}, c.now);
  }
  reply::ok(c.out);
}

// EXPIRE's options, read before its amount (as Redis does: a bad option is the error even when
// the amount is bad too). False: an error was replied.
bool parse_expire_options(Call& c, ExpireCondition& cond) {
  for (size_t i = 3; i < c.args.size(); ++i) {
    std::string_view opt = c.args[i];
    if (iequals(opt, "nx")) cond.nx = true;
    else if (iequals(opt, "xx")) cond.xx = true;
    else if (iequals(opt, "gt")) cond.gt = true;
    else if (iequals(opt, "lt")) cond.lt = true;
    else {
      reply::error(c.out, "ERR Unsupported option " + std::string(opt));
      return false;
    }
  }
  if (cond.nx && (cond.xx || cond.gt || cond.lt)) {
    reply::error(c.out, "ERR NX and XX, GT or LT options at the same time are not compatible");
    return false;
  }
  if (cond.gt && cond.lt) {
    reply::error(c.out, "ERR GT and LT options at the same time are not compatible");
    return false;
  }
  return true;
}

void expire_in(Call& c, int64_t unit, std::string_view name) {
  ExpireCondition cond;
  if (!parse_expire_options(c, cond)) return;
  int64_t amount = 0, at = 0;
  if (!parse_integer(c.args[2], amount)) return not_integer(c);
  // A negative amount is accepted: an instant in the past deletes the key, as in Redis.
  if (!expiry_instant(c.now, amount, unit, at)) {
    return reply::error(c.out, "ERR invalid expire time in '" + std::string(name) + "' command");
  }
  reply::integer(c.out, c.store.expire_at(c.args[1], at, c.now, cond) ? 1 : 0);
}

void cmd_expire(Call& c) { expire_in(c, kMsPerSecond, "expire"); }
void cmd_pexpire(Call& c) { expire_in(c, kMs, "pexpire"); }

// Redis rounds the remaining time to the nearest unit (without its overflow near INT64_MAX).
void ttl_in(Call& c, int64_t unit) {
  int64_t ms = c.store.ttl(c.args[1], c.now);
  reply::integer(c.out, ms < 0 ? ms : ms / unit + (ms % unit >= (unit + 1) / 2 ? 1 : 0));
}

void cmd_ttl(Call& c) { ttl_in(c, kMsPerSecond); }
void cmd_pttl(Call& c) { ttl_in(c, kMs); }

void cmd_dbsize(Call& c) { reply::integer(c.out, static_cast<int64_t>(c.store.size())); }

void cmd_flush(Call& c) {
  c.store.clear();
  reply::ok(c.out);
}

void cmd_select(Call& c) {
  if (c.args[1] == "0") {
    reply::ok(c.out);
  } else {
    reply::error(c.out, "ERR DB index is out of range");
  }
}

void cmd_quit(Call& c) {
  reply::ok(c.out);
  c.after = After::close;
}

// redis-cli asks for COMMAND DOCS to build its hints; an empty answer makes it use its own.
void cmd_command(Call& c) { reply::array(c.out, 0); }

// redis-benchmark reads "save" and "appendonly" when it starts.
struct ConfigParameter {
  std::string_view name, value;
};
constexpr ConfigParameter kConfig[] = {{"save", ""}, {"appendonly", "no"}};

const ConfigParameter* find_config(std::string_view name) {
  for (const ConfigParameter& p : kConfig) {
    if (iequals(p.name, name)) return &p;
  }
  return nullptr;
}

void cmd_config(Call& c) {
  if (!iequals(c.args[1], "get")) {
    return reply::error(c.out, "ERR unknown subcommand " + quoted(c.args[1]) + ". Try CONFIG GET.");
  }
  if (c.args.size() < 3) {
    return reply::error(c.out, "ERR wrong number of arguments for 'config|get' command");
  }
  auto names = c.args.subspan(2);
  size_t items = 0;
  for (std::string_view name : names) items += find_config(name) ? 2 : 0;
  reply::array(c.out, items);
  for (std::string_view name : names) {
    if (const ConfigParameter* p = find_config(name)) {
      reply::bulk(c.out, p->name);
      reply::bulk(c.out, p->value);
    }
  }
}

struct Command {
  std::string_view name;
  int arity;  // as in Redis: n means exactly n arguments with the name, -n at least n
  void (*run)(Call&);
};

constexpr Command kCommands[] = {
    {"get", 2, cmd_get},         {"set", -3, cmd_set},         {"ping", -1, cmd_ping},
    {"echo", 2, cmd_echo},       {"del", -2, cmd_del},         {"exists", -2, cmd_exists},
    {"incr", 2, cmd_incr},       {"decr", 2, cmd_decr},        {"incrby", 3, cmd_incrby},
    {"decrby", 3, cmd_decrby},   {"mget", -2, cmd_mget},       {"mset", -3, cmd_mset},
    {"expire", -3, cmd_expire},  {"pexpire", -3, cmd_pexpire},  {"ttl", 2, cmd_ttl},
    {"pttl", 2, cmd_pttl},       {"dbsize", 1, cmd_dbsize},    {"flushdb", -1, cmd_flush},
    {"flushall", -1, cmd_flush}, {"select", 2, cmd_select},    {"quit", -1, cmd_quit},
    {"command", -1, cmd_command}, {"config", -2, cmd_config},
};

const Command* find_command(std::string_view name) {
  for (const Command& cmd : kCommands) {
    if (iequals(cmd.name, name)) return &cmd;
  }
  return nullptr;
}

bool arity_ok(const Command& cmd, size_t argc) {
  return cmd.arity >= 0 ? argc == static_cast<size_t>(cmd.arity)
                        : argc >= static_cast<size_t>(-cmd.arity);
}

}  // namespace

After execute(Store& store, std::span<const std::string_view> args, int64_t now,
              ReplyWriter& out) {
  const Command* cmd = find_command(args[0]);
  if (cmd == nullptr) {
    std::string msg = "ERR unknown command " + quoted(args[0]) + ", with args beginning with: ";
    for (size_t i = 1; i < args.size() && i <= 8; ++i) msg += quoted(args[i]) + " ";
    reply::error(out, msg);
    return After::keep_open;
  }
  if (!arity_ok(*cmd, args.size())) {
    reply::error(out, "ERR wrong number of arguments for '" + std::string(cmd->name) +
                          "' command");
    return After::keep_open;
  }
  Call call{store, args, now, out};
  cmd->run(call);
  return call.after;
}

}  // namespace kv
