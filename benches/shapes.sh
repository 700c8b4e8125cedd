# Sourced by the benchmark scripts. `pick_shapes [NAME ...]` sets `shapes` to the
# entries of `all_shapes` (each NAME:...) that are named, in the order named, or to
# every entry when none is; an unknown name stops the script with a usage error (2).
pick_shapes() {
  shapes=()
  if [ "$#" -eq 0 ]; then
    shapes=("${all_shapes[@]}")
    return
  fi
  local want s found
  for want in "$@"; do
    found=
    for s in "${all_shapes[@]}"; do
      if [ "${s%%:*}" = "$want" ]; then shapes+=("$s"); found=1; fi
    done
    [ -n "$found" ] || { echo "no shape named $want (shapes: ${all_shapes[*]%%:*})" >&2; exit 2; }
  done
}
