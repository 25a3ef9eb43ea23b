#!/usr/bin/env bash
# ferryctl COMMAND --help for every command (ferryctl.c's table): exit 0,
# "usage: ferryctl COMMAND" first, every long option of the command's
# getopt table named, no line over 80 columns; the usage line of a usage
# error within 80 columns too; --version of the three binaries names the
# release debian/changelog has. Prints "ok - " / "not ok - " lines.
set -uo pipefail
cd "$(dirname "$0")/../.."
B=${FERRY_BUILD:-build}
fails=0
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; fails=$((fails + 1)); }

cmds=$(sed -n 's/^	&cmd_\([a-z_]*\),$/\1/p' ferryctl/ferryctl.c | tr _ -)
[ "$(echo "$cmds" | wc -w)" -ge 14 ] || notok "commands: only $(echo $cmds) found in ferryctl.c"
for c in $cmds; do
	out=$("$B/ferryctl" "$c" --help 2>&1); rc=$?
	f=ferryctl/cmd-$c.c
	[ "$c" = snapshot ] && f=/dev/null	# no options
	[ "$c" = job ] && f="ferryctl/cmd-job.c ferryctl/cmd-jobctl.c"
	longs=$(sed -n 's/.*{ "\([a-z-]*\)", \(no\|required\)_argument.*/\1/p' $f | sort -u)
	[ "$c" = check ] || [ "$c" = migrate ] && longs="$longs to bandwidth max-downtime copy-storage"
	miss=()
	for o in $longs; do
		grep -q -- "--$o" <<<"$out" || miss+=("--$o")
	done
	wide=$(awk 'length > 80' <<<"$out" | head -1)
	if [ $rc = 0 ] && [[ "$out" == "usage: ferryctl $c"* ]] && [ ${#miss[@]} = 0 ] && [ -z "$wide" ]; then
		ok "$c --help"
	else
		notok "$c --help: exit $rc, missing ${miss[*]:-none}, wide '${wide}'"
	fi
	# -h as well, and after an argument
	"$B/ferryctl" "$c" x -h > /dev/null 2>&1 || notok "$c x -h: exit $?"
done
out=$("$B/ferryctl" migrate 2>&1); rc=$?
if [ $rc = 2 ] && [ -z "$(awk 'length > 80' <<<"$out")" ]; then
	ok "a usage error's usage fits in 80 columns (exit 2)"
else
	notok "usage error: exit $rc: $out"
fi
out=$("$B/ferryctl" --help); wide=$(awk 'length > 80' <<<"$out" | head -1)
[ -z "$wide" ] && ok "ferryctl --help within 80 columns" || notok "ferryctl --help: '$wide'"
grep -q "5 not allowed" <<<"$out" && ok "ferryctl --help names exit 5" || notok "ferryctl --help lacks exit 5"
ver=$(sed -n '1s/^ferry (\([^)]*\)).*/\1/p' debian/changelog)
for b in ferryctl ferry-coordinator ferry-hostd; do
	out=$("$B/$b" --version); rc=$?
	if [ $rc = 0 ] && [ "$out" = "$b $ver (protocol 1)" ]; then
		ok "$b --version: $out"
	else
		notok "$b --version: exit $rc, '$out' (debian/changelog: $ver)"
	fi
done
out=$("$B/ferryctl" migrate x --bandwidth 0 2>&1); rc=$?
[ $rc = 2 ] && [ "$out" = "ferryctl: --bandwidth wants a whole number from 1 to 1048576, not '0'" ] &&
	ok "bandwidth 0: the bounds in the error" || notok "bandwidth 0: exit $rc, '$out'"
out=$("$B/ferryctl" migrate x --max-downtime 70000 2>&1); rc=$?
[ $rc = 2 ] && grep -q "from 1 to 60000, not '70000'" <<<"$out" &&
	ok "max-downtime 70000: the bounds in the error" || notok "max-downtime: exit $rc, '$out'"
out=$("$B/ferryctl" --socket /nonexistent/sock hosts 2>&1); rc=$?
[ $rc = 4 ] && ok "no coordinator: exit 4" || notok "no coordinator: exit $rc, '$out'"
[ $fails = 0 ]
