"""The embedded filesystem broker never hands a worker a half-written message."""

import threading

from kombu import Connection, Queue


def test_a_consumer_reading_while_a_producer_writes_gets_every_message_whole(tmp_path):
    folder = str(tmp_path)
    # Big messages and a consumer that polls without pause make the write window wide.
    options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "store_processed": False,
        "polling_interval": 0,
    }
    queue = Queue("race")
    sent = [{"n": n, "body": "x" * 200_000} for n in range(100)]
    received, errors = [], []

    def produce():
        with Connection("filesystem://", transport="config.broker:Transport",
                        transport_options=options) as conn:  # fmt: skip
            producer = conn.Producer(serializer="json")
            for body in sent:
                producer.publish(body, routing_key="race", declare=[queue])

    def consume():
        with Connection("filesystem://", transport="config.broker:Transport",
                        transport_options=options) as conn:  # fmt: skip
            simple = conn.SimpleQueue(queue)
            try:
                while len(received) < len(sent):
                    try:
                        message = simple.get(timeout=10)
                    except simple.Empty:
                        break
                    received.append(message.payload)
                    message.ack()
            except Exception as error:  # a torn file surfaces here as a decode error
                errors.append(error)
            finally:
                simple.close()

    threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(m["n"] for m in received) == list(range(100))
