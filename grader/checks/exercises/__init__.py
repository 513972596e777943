"""One module per notebook: its exercises, their references and the mistakes learners make in them."""
