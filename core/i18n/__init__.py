"""The bot's own words in the end user's language: gettext catalogues made with Babel
(``locales/``) and the translator a turn writes its replies with. Foundation: it imports
nothing of the project."""
