"""Data protection (LGPD): subjects' rights, retention, access audit and incidents.

One module per concern: ``subjects`` finds the person a request is about, ``requests``
keeps the register of requests and their deadlines, ``export``/``correct``/``anonymise``/
``processors`` serve the rights of art. 18, ``access`` records who read a person's data,
``retention`` purges what outlived its policy, ``incidents`` is the incident register.
The store returns data; the CLI and the API format it.
"""
