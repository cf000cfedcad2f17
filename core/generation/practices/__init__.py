"""The library the composer builds personal content from, as a teacher would script it.

``model`` holds the shapes (a :class:`~core.generation.practices.model.Cue` is one
guided line and the silence a teacher leaves after it); ``techniques`` the meditation
techniques, ``affirmations`` the affirmations by theme, ``rituals`` the ritual steps,
``themes`` how a purpose in the user's own words becomes themes, and ``frames`` the
openings, arrivals and closings that fit a time of day and a feeling. Data, and the
small lookups that read it: the planner in :mod:`core.generation.scripts` chooses and
times the pieces.
"""
