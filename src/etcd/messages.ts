/** The decoded shapes of the etcd messages in etcd.proto (proto-loader: keepCase, longs as Number, defaults on). */

export interface RangeRequest {
  key: Buffer;
  range_end?: Buffer;
  limit?: number;
  /** Read as of this revision (0 or absent: the latest). */
  revision?: number;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: number;
}

export interface ResponseHeader {
  revision: number;
}

export interface RangeResponse {
  header?: ResponseHeader;
  kvs: KeyValue[];
  /** More keys lie in the range beyond `limit`. */
  more?: boolean;
  count: number;
}

export interface StatusResponse {
  version: string;
  dbSize: number;
  errors: string[];
  isLearner: boolean;
}

export interface SnapshotResponse {
  remaining_bytes: number;
  blob: Buffer;
}
