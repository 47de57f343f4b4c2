"""The operator API (function alert-api). Each capability registers its routes by one import."""
from . import meta_routes  # noqa: F401
from . import alerts_routes  # noqa: F401
from . import oncall_routes  # noqa: F401
from . import channels_routes  # noqa: F401
from . import stats_routes  # noqa: F401
