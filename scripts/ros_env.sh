# Sourced by the project's scripts: the ROS environment of .venv/ and install/,
# with DDS discovery kept on this machine.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AMENT_PREFIX_PATH="$ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$ROOT/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PATH="$ROOT/.venv/bin:$PATH"
# colcon's setup scripts read unset variables: source them without nounset.
_nounset=$(set -o | awk '$1 == "nounset" {print $2}')
set +u
# shellcheck disable=SC1091
source "$ROOT/install/setup.bash"
[ "$_nounset" = on ] && set -u
unset _nounset
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( ($$ % 90) + 10 ))}
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
# Camera-size images between processes need a larger Fast DDS shared-memory segment than the
# default 512 KB (config/fastdds_large_images.xml); a profile the user set is kept.
if [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}" ] && [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]; then
  export FASTRTPS_DEFAULT_PROFILES_FILE="$ROOT/config/fastdds_large_images.xml"
fi
