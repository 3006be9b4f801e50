"""Journeys: what a lead event does to the lead's journey (start, rescore, stop), its
first touch, and the journeys and handled events it keeps."""
