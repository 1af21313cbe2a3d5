# Sourced by bin/cloudbridge and bin/git-remote-cloudbridge; bash builtins only, so it starts no process.
# choose_entry HERE BUNDLE INPUTS SOURCE sets `entry` to HERE/BUNDLE (made by scripts/build-helper.mjs, run by
# `npm ci`) while it is up to date, that is while none of the files it was made from (listed in HERE/INPUTS)
# is newer than it or gone; otherwise to HERE/SOURCE, the TypeScript sources, which always run as they are.
choose_entry() {
  entry="$1/$4"
  [ -f "$1/$2" ] && [ -f "$1/$3" ] || return 0
  local input
  while IFS= read -r input; do
    if [ ! -f "$1/$input" ] || [ "$1/$input" -nt "$1/$2" ]; then
      return 0
    fi
  done <"$1/$3"
  entry="$1/$2"
}
