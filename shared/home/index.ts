export { roadlogHome } from './home.js';
export { recordLastCluster, readLastCluster, type LastCluster, type LastClusterSecure } from './last-cluster.js';
