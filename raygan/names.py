"""The one rule for names that become file and directory names: study names (a study
file's stem), run names (a run directory) and the keys of a run's part files. No imports
beyond the standard library: the spec, the results store and the engine all check with it.
"""

import re

# A letter or digit first: never a hidden or temporary file (the store writes its
# temporaries as .<name>.tmp), never read as a command-line option (-x).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
