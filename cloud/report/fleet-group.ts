import type { FleetRow } from './fleet.js';

export interface FleetGroupRow {
  [key: string]: string | number | null;
  vehicles: number;
  distanceKm: number;
  fuelL: number;
  lPer100km: number | null;
  idleSeconds: number;
  harshBrakingEvents: number;
  harshPer100km: number | null;
  samples: number;
  counterResets: number;
  outliers: number;
}

/** Rows summed per class or depot (vehicles with none under `-`); L/100 km and harsh per 100 km of the sums. */
export function groupFleet(rows: readonly FleetRow[], by: 'class' | 'depot'): FleetGroupRow[] {
  const groups = new Map<string, FleetRow[]>();
  for (const r of rows) {
    const k = r[by] ?? '-';
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b)).map(([k, rs]) => {
    const sum = (f: (r: FleetRow) => number) => rs.reduce((n, r) => n + f(r), 0);
    const distanceKm = Math.round(sum((r) => r.distanceKm) * 1000) / 1000;
    const fuelL = Math.round(sum((r) => r.fuelL) * 1000) / 1000;
    const harsh = sum((r) => r.harshBrakingEvents);
    return {
      [by]: k,
      vehicles: rs.length,
      distanceKm,
      fuelL,
      lPer100km: distanceKm >= 1 ? Math.round((10_000 * fuelL) / distanceKm) / 100 : null,
      idleSeconds: Math.round(sum((r) => r.idleSeconds) * 10) / 10,
      harshBrakingEvents: harsh,
      harshPer100km: distanceKm >= 1 ? Math.round((10_000 * harsh) / distanceKm) / 100 : null,
      samples: sum((r) => r.samples),
      counterResets: sum((r) => r.counterResets),
      outliers: sum((r) => r.outliers),
    };
  });
}
