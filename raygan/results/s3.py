"""An S3 filesystem that pickles as its URI: no endpoint or credentials in a run's files."""

from __future__ import annotations

import pyarrow.fs as pafs


class UriS3FileSystem(pafs.S3FileSystem):
    """pyarrow's S3 filesystem, pickled as the URI it was opened from.

    pyarrow pickles an S3FileSystem with its options, among them the endpoint and any
    credentials it was handed; Tune pickles the store (and the filesystem it is given)
    into its snapshots in the run directory, which would carry them into the bucket. This
    one is opened again where it is unpickled, from the URI and that process's AWS
    environment variables (a worker node: its own variables or instance role).
    """

    uri: str

    def __reduce__(self):
        return (open_s3, (self.uri,))


def open_s3(uri: str) -> pafs.S3FileSystem:
    """The filesystem of the s3:// ``uri`` as pyarrow opens it, its endpoint, region and
    credentials from the standard AWS environment variables (AWS_ENDPOINT_URL,
    AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, ...); it pickles as ``uri`` alone."""
    fs, _ = pafs.FileSystem.from_uri(uri)
    return pickled_as_uri(fs, uri)


def pickled_as_uri(fs: pafs.S3FileSystem, uri: str) -> UriS3FileSystem:
    options = fs.__reduce__()[1][0]  # pyarrow's own pickle: every option from_uri settled
    out = UriS3FileSystem(**options)
    out.uri = uri
    return out
