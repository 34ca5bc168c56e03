# gdb support for programs built with gort: list goroutines and show where a parked one waits,
# in a live process or a core file, without running code in the inferior.
#
#   (gdb) source runtime/gort_gdb.py            (installed as share/gort/gort_gdb.py)
#   (gdb) info goroutines                       every goroutine: id, state, wait reason, site
#   (gdb) goroutine 17 bt                       the frames of goroutine 17
#   (gdb) goroutine all bt                      the frames of every goroutine that has them
#
# It reads plain symbols the runtime exports for this (runtime/debugger.cpp): the descriptor
# slabs and a table of where a descriptor's fields are. So it needs the program's symbol table,
# not its debug information, and works on Release builds. Frames are walked through the frame
# pointers from the registers the goroutine's last context switch saved, like the runtime's own
# dump: a goroutine that is running on a thread has none saved (use `info threads` and `bt`
# there). x86_64 and AArch64, 64-bit little-endian.
#
# Core files: gdb's `gcore` reads each mapping in pieces and writes a piece it cannot read as
# zeros; a piece of a stack arena that holds MADV_GUARD_INSTALL guard pages (the default guard
# on Linux 6.13 and newer) cannot be read, so such cores hold the goroutine list but zeroed
# stacks. A process meant to be inspected through gcore can run with GORT_STACK_GUARD=mprotect.

import gdb

STATES = ["idle", "runnable", "running", "waiting", "blocking", "dead"]  # runtime/goroutine.hpp
LAYOUT_VERSION = 1
MAX_FRAMES = 64


def _addr_of(symbol):
    try:
        return int(gdb.parse_and_eval("(unsigned long)&'%s'" % symbol))
    except gdb.error:
        raise gdb.GdbError("no '%s' in this program: not a gort program, or its symbols are "
                           "stripped" % symbol)


def _read(addr, size):
    return int.from_bytes(bytes(gdb.selected_inferior().read_memory(addr, size)), "little")


def _ptr(addr):
    return _read(addr, 8)


def _cstr(addr, limit=512):
    if addr == 0:
        return ""
    try:
        raw = bytes(gdb.selected_inferior().read_memory(addr, limit))
    except gdb.MemoryError:
        return "?"
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


class Layout(object):
    FIELDS = ["version", "size", "id", "status", "wait_reason", "file", "line", "function",
              "ctx_handle", "stack_lo", "stack_hi", "saved_fp", "saved_pc"]

    def __init__(self):
        base = _addr_of("gort_debug_g_layout")
        for i, name in enumerate(self.FIELDS):
            setattr(self, name, _read(base + 4 * i, 4))
        if self.version != LAYOUT_VERSION:
            raise gdb.GdbError("gort_debug_g_layout version %d; this script reads version %d"
                               % (self.version, LAYOUT_VERSION))


class Goroutine(object):
    def __init__(self, layout, addr):
        self.addr = addr
        self.layout = layout
        self.id = _read(addr + layout.id, 8)
        self.status = _read(addr + layout.status, 4)
        self.wait_reason = _cstr(_ptr(addr + layout.wait_reason))
        self.file = _cstr(_ptr(addr + layout.file))
        self.line = _read(addr + layout.line, 4)
        self.function = _cstr(_ptr(addr + layout.function))
        self.sp = _ptr(addr + layout.ctx_handle)
        self.lo = _ptr(addr + layout.stack_lo)
        self.hi = _ptr(addr + layout.stack_hi)

    def state(self):
        name = STATES[self.status] if self.status < len(STATES) else "state %d" % self.status
        if self.status == 3 and self.wait_reason:
            return "%s (%s)" % (name, self.wait_reason)
        return name

    def has_saved_frames(self):
        # Runnable and waiting goroutines are switched out; a runnable one that never ran has a
        # fresh context, whose saved frame pointer is 0.
        return self.status in (1, 3) and self.lo <= self.sp < self.hi

    def frames(self):
        """Innermost first: the resume address, then the return addresses of the frame chain."""
        lay = self.layout
        if not self.has_saved_frames() or self.sp + lay.saved_pc + 8 > self.hi:
            return []
        fp = _ptr(self.sp + lay.saved_fp)
        out = [_ptr(self.sp + lay.saved_pc)]
        low = self.sp + lay.saved_pc + 8
        # Same rule as runtime/backtrace.cpp: a record must lie inside the stack, above the last,
        # so a register that holds anything else ends the walk.
        while len(out) < MAX_FRAMES and low <= fp and fp + 16 <= self.hi and fp % 8 == 0:
            ret = _ptr(fp + 8)
            if ret == 0:
                break
            out.append(ret)
            low, fp = fp + 16, _ptr(fp)
        return out


def goroutines():
    layout = Layout()
    slabs = _ptr(_addr_of("gort_debug_slabs"))
    count = _ptr(_addr_of("gort_debug_slab_count"))
    per_slab = _ptr(_addr_of("gort_debug_slab_size"))
    found = []
    for s in range(count):
        slab = _ptr(slabs + 8 * s)
        for i in range(per_slab):
            g = Goroutine(layout, slab + i * layout.size)
            if g.status in (0, 5):  # idle or dead: a free descriptor
                continue
            found.append(g)
    found.sort(key=lambda g: g.id)
    return found


def describe_pc(pc, exact):
    """'0xPC in FUNCTION (FILE:LINE)': FILE:LINE only where the program has debug information."""
    at = pc if exact else pc - 1  # a return address can sit just past its call's function
    text = gdb.execute("info symbol 0x%x" % at, to_string=True).strip()
    name = text.split(" in section ")[0] if "No symbol matches" not in text else "??"
    sal = gdb.find_pc_line(at)
    where = ""
    if sal.symtab is not None and sal.line:
        where = " (%s:%d)" % (sal.symtab.filename, sal.line)
    return "0x%x in %s%s" % (pc, name, where)


class InfoGoroutines(gdb.Command):
    """List the goroutines of a gort program: id, state (with the wait reason of a parked one)
and where it was created."""

    def __init__(self):
        super(InfoGoroutines, self).__init__("info goroutines", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        gs = goroutines()
        for g in gs:
            gdb.write("  %-6d %-28s created at %s:%d in %s\n"
                      % (g.id, g.state(), g.file, g.line, g.function))
        gdb.write("%d goroutines\n" % len(gs))


class GoroutineCommand(gdb.Command):
    """goroutine ID bt | goroutine all bt: the frames of a switched-out goroutine."""

    def __init__(self):
        super(GoroutineCommand, self).__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split()
        if len(args) != 2 or args[1] != "bt":
            raise gdb.GdbError("usage: goroutine ID bt | goroutine all bt")
        gs = goroutines()
        if args[0] != "all":
            try:
                want = int(args[0])
            except ValueError:
                raise gdb.GdbError("goroutine: '%s' is not a goroutine id" % args[0])
            gs = [g for g in gs if g.id == want]
            if not gs:
                raise gdb.GdbError("goroutine %d: no such goroutine" % want)
        for g in gs:
            gdb.write("goroutine %d [%s]:\n" % (g.id, g.state()))
            frames = g.frames()
            if not frames:
                why = ("running on a thread: see `info threads` and `bt` there"
                       if g.status in (2, 4) else "no saved frames")
                gdb.write("  (%s)\n" % why)
            for i, pc in enumerate(frames):
                gdb.write("  #%d %s\n" % (i, describe_pc(pc, i == 0)))
            gdb.write("\n")


InfoGoroutines()
GoroutineCommand()
