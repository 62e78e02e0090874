"""What the public site and the back office both use on the web side: stored files,
reading and storing posted photos, the page and figure caches. Neither door owns these, so
``admin`` never imports ``portal.public``."""
