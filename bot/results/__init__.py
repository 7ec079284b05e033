"""The plain data the services return and the views render: frozen dataclasses, one
module per area, named after the service that builds them.

They live apart from the services so that a view (and anything that only renders)
can be imported without SQLAlchemy, the repositories or the services. So a module
here imports only the standard library, `bot.domain`, `bot.ids` and other
`bot.results` modules, and holds data and pure methods on it, never queries or
Block Kit. A type only a service uses, such as a form's validated input, stays in
its service."""
