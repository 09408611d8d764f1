"""Public market-data files read into recordings (`vmx data import`, docs/backtests.md).

One module per publisher (binance.py, tardis.py) reads its files as published; sources.py opens
a file (plain, gzip or zip) and hands out its lines in bounded chunks; fields.py holds the
checks every row goes through and the error that names the file, line and column; writer.py
merges the files in time order into one recording, written to a temporary file and renamed.
"""
