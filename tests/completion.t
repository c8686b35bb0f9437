#!/bin/bash
# ISC license: see LICENSE.
# Bash completion (completions/NAME), through bash-completion's own
# machinery: __load_completion finds each file by the tool's name, as it
# does under /usr/share/bash-completion/completions; complete -p names its
# function; the function, called as bash calls it (COMP_WORDS, COMP_CWORD,
# COMP_LINE, COMP_POINT), leaves what we expect in COMPREPLY.
. "$(dirname "$0")/lib.sh"
COMPLETIONS=$(cd "$(dirname "$0")/../completions" && pwd)
BASHCOMP=/usr/share/bash-completion/bash_completion

# comp TOOL TYPED [AFTER]: the completions of TOOL's command line TYPED,
# the cursor at its end and AFTER (more words) behind it, one a line in
# ./got.  BASH_COMPLETION_USER_DIR makes our files the ones loaded.
comp() {
	mkdir -p user
	ln -sfn "$COMPLETIONS" user/completions
	BASH_COMPLETION_USER_DIR=$PWD/user bash -c '
		. "$1"
		tool=$2 typed=$3 after=${4:-}
		__load_completion "$tool" || exit 3
		spec=$(complete -p "$tool") || exit 3
		echo "$spec" >spec
		[[ $spec =~ -F\ ([^ ]+) ]] || exit 4
		COMP_LINE=$typed$after
		COMP_POINT=${#typed}
		# Words as bash makes them, raw: at blanks not escaped by a
		# backslash, and at ":" and "=", words of their own
		# (COMP_WORDBREAKS).
		words() {
			local i c w=
			for ((i = 0; i < ${#1}; i++)); do
				c=${1:i:1}
				case $c in
				\\) w+=${1:i:2}; ((i++)) ;;
				" ") [ -z "$w" ] || printf "%s\n" "$w"; w= ;;
				[:=])
					[ -z "$w" ] || printf "%s\n" "$w"
					printf "%s\n" "$c"
					w=
					;;
				*) w+=$c ;;
				esac
			done
			[ -z "$w" ] || printf "%s\n" "$w"
		}
		mapfile -t COMP_WORDS < <(words "$typed")
		[[ $typed == *[" :="] ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		mapfile -t rest < <(words "$after")
		COMP_WORDS+=("${rest[@]}")
		COMPREPLY=()
		"${BASH_REMATCH[1]}" "$tool" "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD - 1]}"
		: >got
		[ ${#COMPREPLY[@]} -eq 0 ] ||
		    printf "%s\n" "${COMPREPLY[@]}" | sort >got
	' comp "$BASHCOMP" "$@" || fail "$1: no completion loaded ($?)"
}

# has WORD...: every WORD is in ./got.  hasnt WORD...: none is.
has() {
	local w
	for w; do
		grep -qxF -- "$w" got || fail "no $w in: $(tr '\n' ' ' <got)"
	done
}
hasnt() {
	local w
	for w; do
		! grep -qxF -- "$w" got || fail "$w in: $(tr '\n' ' ' <got)"
	done
}

# Each tool's file loads by its name and registers its function.
loaded() {
	local tool
	for tool in fdsend fdrecv fdholder effif; do
		comp "$tool" "$tool "
		grep -qx "complete -F _$tool $tool" spec ||
		    fail "complete -p $tool: $(cat spec)"
	done
}

# The options of each tool, with the letters of README's table.
options() {
	comp fdsend "fdsend -"
	has -D -S -e -g -h -l -n -p -r -t -u
	hasnt -N -d
	comp fdrecv "fdrecv -"
	has -D -S -c -g -h -m -n -r -t -u
	hasnt -L
	comp fdholder "fdholder -"
	has -D -E -L -N -S -X -f -g -h -i -j -s -t -u -x
	hasnt -l
	comp fdholder "fdholder -X -s ctl -- setpri"
	has setpriv
	comp effif "effif -"
	has -4 -6 -I -M -P -a -h -j -v -w --method
	hasnt -m -n -p
	comp effif "effif --method sc"
	[ "$(cat got)" = scan ] || fail "--method sc: $(cat got)"
	comp effif "effif --method=de"
	[ "$(cat got)" = delegate ] || fail "--method=de: $(cat got)"
}

# Users after -u, groups after -g, an operation before either in fdholder.
users() {
	comp fdsend "fdsend -u roo"
	has root
	comp fdrecv "fdrecv -g roo"
	has root
	# bash puts back only what follows the colon.
	comp fdholder "fdholder -u retrieve:roo"
	has root
	comp fdholder "fdholder -g ret"
	has retrieve:
	# -L and -D trust a store's user: no operation there.
	comp fdholder "fdholder -L -u r"
	has root
	hasnt retrieve:
}

# effif's operands: the interfaces of /sys/class/net.
interfaces() {
	comp effif "effif l"
	has lo
	comp effif "effif -j "
	has $(ls /sys/class/net)
}

# A socket operand, or fdholder -s: files.  After fdrecv's socket (or
# fdrecv -S name), the program: commands, then their own completion.
files() {
	mkdir sub
	python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")'
	comp fdsend "fdsend "
	has sock sub
	comp fdrecv "fdrecv -c so"
	has sock
	comp fdholder "fdholder -s s"
	has sock sub
	comp fdrecv "fdrecv sock ech"
	has echo
	comp fdrecv "fdrecv -S web -m 0 printen"
	has printenv
	comp fdrecv "fdrecv sock ls s"
	has sock sub
	# fdsend's fd operands: the shell's open fds.
	comp fdsend "fdsend sock "
	has 0 1 2
}

# fdsend's listener operands: what process -p listens on, as ss(8) says.
listeners() {
	cat >lsn.py <<-'EOT'
	import os, socket, time
	t = socket.socket(); t.bind(("127.0.0.1", 0)); t.listen(1)
	u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	u.bind(("127.0.0.1", 0))
	x = socket.socket(socket.AF_UNIX); x.bind("lsn.sock"); x.listen(1)
	with open("lpid.tmp", "w") as f:
	    print(os.getpid(), t.getsockname()[1], u.getsockname()[1], file=f)
	os.rename("lpid.tmp", "lpid")
	time.sleep(30)
	EOT
	bg python3 lsn.py
	wait_for 5 test -s lpid
	read -r pid tport uport <lpid
	comp fdsend "fdsend -p $pid sock "
	has "tcp:$tport" "udp:$uport" unix:lsn.sock
	# bash puts back only what follows the colon.
	comp fdsend "fdsend -p $pid sock tcp:"
	[ "$(cat got)" = "$tport" ] || fail "tcp:: $(cat got)"
	comp fdsend "fdsend -p $pid sock un"
	[ "$(cat got)" = unix:lsn.sock ] || fail "un: $(cat got)"
}

# Entry names, listed by fdholder -L from the store on the line.
entries() {
	bg fdholder -s "$PWD/ctl"
	wait_for 10 fdholder -L -s ctl
	fdsend -n web ctl 0 </dev/null
	fdsend -n 'web two' ctl 0 </dev/null
	fdsend -n db ctl 0 </dev/null
	comp fdrecv "fdrecv -n w" " ctl prog"
	has web 'web\ two'
	hasnt db
	comp fdrecv "fdrecv ctl -n " ""
	hasnt web
	comp fdholder "fdholder -D -s ctl "
	has db web 'web\ two'
	comp fdholder "fdholder -D -s ctl web\\ t"
	[ "$(cat got)" = 'web\ two' ] || fail "web\\ t: $(cat got)"
	comp fdholder "fdholder -D d" " -s $PWD/ctl"
	has db
	hasnt web
	comp fdholder "fdholder -D -s nosuch "
	[ ! -s got ] || fail "names from no store: $(cat got)"
}

if [ ! -f "$BASHCOMP" ]; then
	t_skip "completion" "no $BASHCOMP (package bash-completion, make deps)"
	t_done
	exit
fi
t_case "each file loads by its tool's name; complete -p names its function" loaded
t_case "options of each tool; effif --method names" options
t_case "-u users, -g groups, fdholder's op:" users
t_case "effif: interfaces of /sys/class/net" interfaces
t_case "sockets are files; after fdrecv's socket, a command" files
t_case "fdsend -p: the process's listeners as tcp:, udp:, unix:" listeners
t_case "fdrecv -n, fdholder -D: entry names from the store on the line" entries
t_done
