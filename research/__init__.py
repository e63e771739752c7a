"""Research code: training the retriever, tuning retrieval settings, and the experiments behind the choices
(each prints its table beside its baseline). Above evals/ (it scores with the eval suites and their datasets);
nothing in the product imports it but the `scisynth train` command."""
