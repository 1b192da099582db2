#!/usr/bin/env python3
"""Writes the man page and the bash completion of `platelet` from the commands' own
--help, so neither can drift from the binary: `platelet --help` gives the commands, each
`platelet COMMAND --help` its usage line, verbs and flags, and a command that lists
sub-commands (ledger, audit, bench) is asked again for each.

usage: gen_cli_docs.py PATH-TO-platelet OUT_DIR
Writes OUT_DIR/platelet.1 (roff), OUT_DIR/platelet.1.gz (the same, gzip with no time
stamp, as Debian ships man pages) and OUT_DIR/platelet.bash. Run by the build.
"""
import gzip
import os
import re
import subprocess
import sys

FLAG_RE = re.compile(r"^\s+(-{1,2}[a-zA-Z][a-z0-9-]*)\s+(.*)$")
ITEM_RE = re.compile(r"^  ([a-z][a-z0-9-]*)\s+(.*)$")


def helptext(binary, *args):
    """The help of a command: stdout of --help, or the usage a command put in its error
    (a few commands refuse --help and print their usage in the error line)."""
    p = subprocess.run([binary, *args, "--help"], capture_output=True, text=True, timeout=10)
    if p.returncode == 0:
        return p.stdout
    m = re.search(r"\(usage: (.*)\)\s*$", p.stderr)
    if m:
        return "usage: " + m.group(1) + "\n"
    return "usage: platelet %s\n" % " ".join(args)


def parse(text):
    """(usage line, [(flag, description)], [(item, summary)] of a commands: list)."""
    lines = text.splitlines()
    usage = lines[0][len("usage: "):] if lines and lines[0].startswith("usage: ") else ""
    flags, items = [], []
    in_list = False
    for line in lines[1:]:
        if line.endswith(":") and not line.startswith(" "):
            in_list = True
            continue
        m = FLAG_RE.match(line)
        if m:
            flags.append((m.group(1), m.group(2).strip()))
            continue
        m = ITEM_RE.match(line)
        if m and in_list:
            items.append((m.group(1), m.group(2).strip()))
    return usage, flags, items


def verbs_of(usage, command):
    """Verbs written in a usage line: `platelet raft status | transfer [--to NAME] | ...`
    or `platelet service stop|start NAME` give status, transfer, ... / stop, start."""
    rest = re.sub(r"\[[^\]]*\]", "", usage[len("platelet " + command):]).strip()
    verbs = []
    for alt in re.split(r"\s*\|\s*", rest):
        word = alt.split(" ")[0] if alt else ""
        if re.fullmatch(r"[a-z][a-z0-9-]*", word):
            verbs.append(word)
    return verbs if len(verbs) > 1 or "|" in rest else []


def all_flags(usage, flags):
    """The flags of the help's list, then those only its usage line names (a command that
    prints its usage in an error line has no list)."""
    names = [f for f, _ in flags]
    for f in re.findall(r"(?<![\w-])(-{1,2}[a-zA-Z][a-z0-9-]*)", usage):
        if f not in names:
            names.append(f)
    return names


def collect(binary):
    top = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    commands = []
    in_list = False
    for line in top.splitlines():
        if line.startswith("commands:"):
            in_list = True
            continue
        m = ITEM_RE.match(line)
        if in_list and m:
            commands.append((m.group(1), m.group(2).strip()))
    out = []
    for name, summary in commands:
        usage, flags, items = parse(helptext(binary, name))
        subs = []
        for sub, sub_summary in items:
            su, sf, _ = parse(helptext(binary, name, sub))
            subs.append({"name": sub, "summary": sub_summary, "usage": su, "flags": sf})
        for s in subs:
            s["all_flags"] = all_flags(s["usage"], s["flags"])
        verbs = [s["name"] for s in subs] or verbs_of(usage, name)
        out.append({"name": name, "summary": summary, "usage": usage, "flags": flags,
                    "all_flags": all_flags(usage, flags), "subs": subs, "verbs": verbs})
    return out


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return ("\\&" + text) if text.startswith((".", "'")) else text


def man_page(commands, version):
    m = [
        '.TH PLATELET 1 "" "platelet %s" "Platelet"' % version,
        ".SH NAME",
        "platelet \\- decentralised self\\-healing agent and its command\\-line tools",
        ".SH SYNOPSIS",
        ".B platelet",
        ".I command",
        ".RI [ flags ]",
        ".SH DESCRIPTION",
        "One small daemon (\\fBplatelet agent\\fR) runs on every host. The agents gossip "
        "membership and health, elect a healer by Raft, keep every healing decision in a "
        "Merkle\\-verified ledger, and heal their own host's services. The other commands "
        "talk to a running agent through its API (\\fB\\-\\-api\\fR HOST:PORT or "
        "unix:PATH, or \\fBPLATELET_API\\fR) or work on a data directory.",
        "This page is generated from the commands' own \\fB\\-\\-help\\fR.",
        ".SH COMMANDS",
    ]

    def entry(title, summary, usage, flags):
        m.append('.SS "%s"' % roff(title))
        m.append(roff(summary[:1].upper() + summary[1:]) + ".")
        if usage:
            m.extend([".PP", ".nf", roff(usage), ".fi"])
        for flag, desc in flags:
            m.extend([".TP", "\\fB%s\\fR" % roff(flag), roff(desc)])

    for c in commands:
        entry("platelet " + c["name"], c["summary"], c["usage"], c["flags"])
        for s in c["subs"]:
            entry("platelet %s %s" % (c["name"], s["name"]), s["summary"], s["usage"], s["flags"])
    m += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBPLATELET_API\\fR",
        "The agent address commands use when \\fB\\-\\-api\\fR is not given.",
        ".SH FILES",
        ".TP", "\\fI/etc/platelet/agent.json\\fR",
        "The agent's configuration (the packaged unit runs \\fBplatelet agent \\-\\-config\\fR with it).",
        ".TP", "\\fI/var/lib/platelet\\fR",
        "The data directory: the node key, RocksDB with the ledger, the API socket \\fIapi.sock\\fR.",
        ".SH EXIT STATUS",
        "0 on success, 1 on a failure, 2 on a usage or configuration error; each failure "
        "prints one line on standard error naming what is wrong.",
        ".SH SEE ALSO",
        "\\fBsystemd.service\\fR(5); the unit \\fIplatelet.service\\fR.",
    ]
    return "\n".join(m) + "\n"


def completion(commands):
    """A bash completion that needs nothing but bash (no bash-completion helpers)."""
    c = [
        "# bash completion for platelet; generated by scripts/gen_cli_docs.py from the",
        "# commands' --help: do not edit.",
        "_platelet()",
        "{",
        "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}",
        "    local cmd=${COMP_WORDS[1]} verb=${COMP_WORDS[2]} verbs= flags= files=",
        "    COMPREPLY=()",
        "    if [ \"$COMP_CWORD\" -eq 1 ]; then",
        "        COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))" % " ".join(x["name"] for x in commands),
        "        return",
        "    fi",
        "    case $cmd in",
    ]

    def file_flags(flags):
        return [f for f, d in flags if re.search(r"\b(file|dir|directory|FILE)\b", d)]

    for x in commands:
        c.append("    %s)" % x["name"])
        if x["verbs"]:
            c.append("        verbs=\"%s\"" % " ".join(x["verbs"]))
        if x["subs"]:
            c.append("        case $verb in")
            for s in x["subs"]:
                c.append("        %s) flags=\"%s\"; files=\"%s\" ;;" % (
                    s["name"], " ".join(s["all_flags"]), " ".join(file_flags(s["flags"]))))
            c.append("        esac")
        else:
            c.append("        flags=\"%s\"; files=\"%s\"" % (
                " ".join(x["all_flags"]), " ".join(file_flags(x["flags"]))))
        c.append("        ;;")
    c += [
        "    esac",
        "    if [ -n \"$files\" ] && [[ \" $files \" == *\" $prev \"* ]]; then",
        "        COMPREPLY=($(compgen -f -- \"$cur\"))",
        "    elif [[ $cur == -* ]]; then",
        "        COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))",
        "    elif [ \"$COMP_CWORD\" -eq 2 ] && [ -n \"$verbs\" ]; then",
        "        COMPREPLY=($(compgen -W \"$verbs\" -- \"$cur\"))",
        "    fi",
        "}",
        "complete -o default -F _platelet platelet",
    ]
    return "\n".join(c) + "\n"


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def main():
    if len(sys.argv) != 3:
        print("usage: gen_cli_docs.py PATH-TO-platelet OUT_DIR", file=sys.stderr)
        return 2
    binary, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    version = subprocess.run([binary, "version"], capture_output=True, text=True).stdout.split()[-1]
    commands = collect(binary)
    if not commands:
        print("gen_cli_docs: 'platelet --help' listed no commands", file=sys.stderr)
        return 1
    page = man_page(commands, version)
    write(os.path.join(out, "platelet.1"), page)
    write(os.path.join(out, "platelet.1.gz"), gzip.compress(page.encode(), mtime=0))
    write(os.path.join(out, "platelet.bash"), completion(commands))
    return 0


if __name__ == "__main__":
    sys.exit(main())
