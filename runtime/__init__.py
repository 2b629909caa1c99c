"""Runtime services shared by the jobs, analytics and the shell: settings, redaction, metrics, the manifest store, CLI defaults."""
