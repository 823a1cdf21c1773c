"""The ``oma`` queue's job types: OMA (DCS) lab files processed, their traces rendered, an
order's file exported; with the drop folders they read from and deliver to."""
