"""Stories and what they are matched against.

store (feeds, topics and subscribers in Redis, with their indexes), claim (a story's exact
identity: guid, normalised link, normalised title; claimed once in one Lua call), match (topic
expressions: words, phrases, AND/OR/NOT, any script), quiet (quiet hours and digest times);
cluster (same event across outlets: terms weigh shared words, cluster_index keeps them in Redis)
events (who has heard of an event, and what counts as an update) and breaking (outlets, copies
included, and when a topic calls an event urgent).
"""
