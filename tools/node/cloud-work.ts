/**
 * What a cloud double behind an MQTT broker still owes a simulated device, counted so that virtual
 * time waits for exactly that and never for a window of real silence (issue 15: a busy host must
 * give the same virtual figures as an idle one).
 *
 * A broker acknowledges a device's PUBLISH on its own; the answer that matters (IoTConnect's
 * command in reply to `{"mt":205}`) comes from another client, the cloud double, which the
 * device's connection cannot see. So both sides count here:
 * - the device's modem socket counts each PUBACK it receives (a device message the broker took,
 *   so it will reach the double: mosquitto forwards it to the double's subscription) and each
 *   PUBLISH it receives (a message for the device arrived);
 * - the double counts each device message it took and, before it publishes an answer, the
 *   answers it owes.
 * The cloud is idle when it took every message the broker acknowledged and every answer it owes
 * has arrived. A message the broker never acknowledged (the link dropped first) is not counted:
 * nobody owes anything for it.
 */
export class CloudWork {
  /** Device messages the broker acknowledged / the double took. */
  #acknowledged = 0;
  #taken = 0;
  /** Answers the double decided to send a device that have not arrived at its socket yet. */
  #owed = 0;
  readonly #listeners = new Set<() => void>();

  /** Nothing more will come from the cloud for what the device sent. */
  get idle(): boolean {
    return this.#taken >= this.#acknowledged && this.#owed === 0;
  }

  /** Device side: the broker acknowledged `n` of the device's messages (PUBACK). */
  acknowledged(n: number): void {
    if (n <= 0) return;
    this.#acknowledged += n;
    this.#changed();
  }

  /** Device side: `n` messages arrived for the device (PUBLISH). */
  arrived(n: number): void {
    if (n <= 0) return;
    this.#owed = Math.max(0, this.#owed - n);
    this.#changed();
  }

  /** Cloud side: a device message was taken; `answers` messages to the device will follow. */
  took(answers = 0): void {
    this.#owed += answers;
    this.#taken++;
    this.#changed();
  }

  /** Call `listener` at every change, until the returned function is called. */
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
