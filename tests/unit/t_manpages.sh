#!/usr/bin/env bash
# The man pages (man/) against the source, so they cannot drift apart:
# every ferryctl command (ferryctl.c's table, each descriptor's name in
# cmd-*.c), maintenance subcommand, long option (getopt_long tables) and
# exit code; every daemon option (getopt strings); every configuration key
# the parsers accept (the conf_key tables and the nested keys parse.c reads).
# The bash completion must know every command and option too. And every
# page renders without a warning. Prints "ok - " / "not ok - " lines.
set -uo pipefail
cd "$(dirname "$0")/../.."
CTL=ferryctl
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

# has PAGE WORD...: every WORD appears as a macro argument (Cm, Fl) in PAGE
# (lines like ".It Cm name" or ".Fl \-json" or "Oo Fl \-to Ar host Oc").
missing_in() { # page macro words...
	local page=$1 mac=$2 w miss=()
	shift 2
	for w in "$@"; do
		grep -qE "(^\.| )${mac}${w}( |$)" "$page" || miss+=("$w")
	done
	echo "${miss[*]}"
}
check() { # name page macro min words...
	local name=$1 page=$2 mac=$3 min=$4 miss
	shift 4
	if [ $# -lt "$min" ]; then
		notok "$name: only $# found in the source (expected at least $min; extraction broken?)"
		return
	fi
	miss=$(missing_in "$page" "$mac" "$@")
	if [ -n "$miss" ]; then notok "$name: missing from $page: $miss"
	else ok "$name: all $# in $page"; fi
}

# ferryctl commands: the table's entries, each named by its descriptor.
cmds=()
for sym in $(sed -n 's/^[[:space:]]*&\(cmd_[a-z_]*\),$/\1/p' $CTL/ferryctl.c); do
	n=$(awk -v s="$sym" '$0 ~ "^const struct ctl_cmd " s " = \\{" { f = 1; next }
		f && match($0, /"[^"]*"/) { print substr($0, RSTART + 1, RLENGTH - 2); exit }' $CTL/cmd-*.c)
	[ -n "$n" ] || { notok "ferryctl command $sym: no descriptor name found"; continue; }
	cmds+=("$n")
done
check "ferryctl commands" man/ferryctl.1 "Cm " 12 "${cmds[@]}"
subs=($(sed -n 's/.*strcmp(argv\[1\], "\([a-z]*\)").*/\1/p' $CTL/cmd-maintenance.c))
check "ferryctl maintenance subcommands" man/ferryctl.1 "Cm " 3 "${subs[@]}"
opts=($(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", \(no\|required\|optional\)_argument.*/\1/p' \
	$CTL/ferryctl.c $CTL/cmd-*.c | sort -u))
check "ferryctl options" man/ferryctl.1 'Fl \\-' 20 "${opts[@]}"
# exit codes: CTL_EXIT_* values, each an item of EXIT STATUS
codes=($(sed -n 's/^#define CTL_EXIT_[A-Z]*[[:space:]]*\([0-9]*\).*/\1/p' $CTL/ferryctl.h))
miss=()
for c in "${codes[@]}"; do
	sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' man/ferryctl.1 | grep -qx "\.It $c" || miss+=("$c")
done
if [ ${#codes[@]} -lt 5 ]; then notok "ferryctl exit codes: only ${#codes[@]} found in ferryctl.h"
elif [ ${#miss[@]} -gt 0 ]; then notok "ferryctl exit codes missing from EXIT STATUS: ${miss[*]}"
else ok "ferryctl exit codes: all ${#codes[@]} in EXIT STATUS"; fi

# The completion knows every command and option.
comp=deploy/completion/ferryctl
miss=()
for w in "${cmds[@]}" "${subs[@]}"; do grep -qE "(^|[ \"])$w( |\"|\))" $comp || miss+=("$w"); done
for w in "${opts[@]}"; do grep -qE -- "--$w[= \"]" $comp || miss+=("--$w"); done
if [ ${#miss[@]} -gt 0 ]; then notok "bash completion: missing $comp: ${miss[*]}"
else ok "bash completion: every command and option in $comp"; fi

# The daemons' options (getopt strings of main.c).
for d in hostd coordinator; do
	letters=$(sed -n 's/.*getopt(argc, argv, "\([a-zA-Z:]*\)").*/\1/p' $d/main.c | tr -d :)
	check "ferry-$d options" man/ferry-$d.8 "Fl " 3 $(echo "$letters" | sed 's/./& /g')
done

# Configuration keys: the conf_key tables, the host and group members.
keys() { # file
	sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", CONF_.*/\1/p' "$1"
	grep -o 'strcmp(config_setting_name(m), "[a-z_]*")' "$1" | sed 's/.*"\([a-z_]*\)".*/\1/'
	grep -oE '(conf_get_str|config_setting_get_member)\((g|h), "[a-z_]*"' "$1" |
		sed 's/.*"\([a-z_]*\)"/\1/'
}
check "ferry-hostd.conf keys" man/ferry-hostd.conf.5 "Cm " 10 $(keys hostd/parse.c | sort -u)
check "ferry-coordinator.conf keys" man/ferry-coordinator.conf.5 "Cm " 20 $(keys coordinator/parse.c | sort -u)

# Every page renders without a warning, three ways.
for p in man/*.[158]; do
	out=$( { mandoc -T lint -W warning "$p"; groff -ww -mandoc -z "$p";
		MANWIDTH=80 man --warnings -l "$p" >/dev/null; } 2>&1)
	rc=$?
	if command -v mandoc >/dev/null && [ -z "$out" ] && [ $rc = 0 ]; then ok "$p renders without warnings"
	else notok "$p: ${out:-mandoc missing (make deps)}"; fi
done
[ $fails = 0 ]
