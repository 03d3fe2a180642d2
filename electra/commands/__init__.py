"""The ``electra`` subcommands that are tools rather than library: benchmarking, the
ELECTRA-vs-MLM comparison, the GLUE runner, the demo, replaced-token detection on text, plots,
validation of a pair, and export. Each builds on the library core (``electra.config``,
``electra.masking``, ``electra.sampling``, ``electra.model``, ``electra.objectives``,
``electra.data``, ``electra.train``, ``electra.finetune``, ``electra.hf``); ``electra.cli`` parses
their options."""
