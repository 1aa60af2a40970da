"""Settings of the Jupyter server `make lab` starts (``--config``; not named jupyter_server_config.py, which Jupyter
would also load from the folder it starts in): notebooks are saved without widget state, which would keep what was
typed in a form and the people the tables and pickers show (see helpers/saving.py)."""

import warnings

from helpers.saving import without_widget_state

# JupyterLab applies this configuration to the contents manager twice; the second time traitlets warns that the hook
# replaces itself, which is no problem to report
warnings.filterwarnings("ignore", message="Overriding existing pre_save_hook", category=UserWarning)

c.FileContentsManager.pre_save_hook = without_widget_state  # type: ignore[name-defined]  # noqa: F821
