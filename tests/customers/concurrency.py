"""Run functions at the same moment in threads, each on its own database connection."""

import threading

from django.db import connection


def run_together(*functions):
    barrier = threading.Barrier(len(functions))
    errors = []

    def worker(function):
        try:
            barrier.wait(timeout=10)
            function()
        except Exception as exc:  # reported below, so a failure is never silent
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors
