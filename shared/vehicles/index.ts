export { VehicleRefSchema, parseVehiclesCsv, formatVehiclesCsv, CSV_COLUMNS, OVERRIDE_KEY, type VehicleRef } from './vehicle.js';
